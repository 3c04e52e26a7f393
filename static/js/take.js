// Taking a listing: the form's summary (swaps/_quote.html, loaded by htmx for the amount and
// wallet in the form) must say the offer can be taken before "Take offer" is enabled. Then:
// draw the swap secret with WebCrypto, keep it in this browser (the swap page offers it as a
// backup file), send only sha256(secret) to the server, and open the swap page.
import { WalletError, runWithStatus } from "./wallet.js";
import { swapApi } from "./swap-api.js";

const form = document.getElementById("take-form");
const button = document.getElementById("take-button");
const status = document.getElementById("take-status");
const summary = document.getElementById("take-summary");

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function drawSecret() {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", secret));
  return { secret: `0x${hex(secret)}`, hashlock: `0x${hex(digest)}` };
}

export function keepSecret(hashlock, secret) {
  localStorage.setItem(`swap-secret:${hashlock}`, secret);
}

const canTake = () => summary?.querySelector("[data-can-take]")?.dataset.canTake === "true";

function refreshButton() {
  if (button && button.getAttribute("aria-busy") !== "true") button.disabled = !canTake();
}
// A new amount or wallet: the old summary no longer holds until the new one arrives.
form?.addEventListener("input", () => {
  if (button) button.disabled = true;
});
document.body.addEventListener("htmx:afterSwap", (event) => {
  if (event.target === summary) refreshButton();
});
refreshButton();

form?.addEventListener("submit", (event) => {
  event.preventDefault();
  runWithStatus(button, status, async (ui) => {
    if (!canTake()) throw new WalletError("not_ready", form.dataset.notReady);
    ui.step(form.dataset.drawing);
    const { secret, hashlock } = await drawSecret();
    keepSecret(hashlock, secret); // before the request: a lost answer must not lose the secret
    let swap;
    try {
      swap = await swapApi("/api/v1/swaps/", {
        listing: Number(form.dataset.listing),
        amount: form.elements.amount.value.trim(),
        hashlock,
        taker_address: form.elements.taker_address.value,
      });
    } catch (error) {
      // The server answered no: no swap has this hashlock, so the secret is of no use.
      if (error.code !== "server_unreachable") localStorage.removeItem(`swap-secret:${hashlock}`);
      throw error;
    }
    ui.done(form.dataset.opening);
    window.location.assign(`/swaps/${swap.id}/`); // the swap page offers the backup file
  }).then(refreshButton);
});
