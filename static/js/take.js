// Taking a listing: draw the swap secret with WebCrypto, keep it in this browser (the swap
// page then offers it as a backup file), send only sha256(secret) to the server, then open
// the swap page.
import { api, runWithStatus } from "./wallet.js";

const form = document.getElementById("take-form");
const button = document.getElementById("take-button");
const status = document.getElementById("take-status");

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

form?.addEventListener("submit", (event) => {
  event.preventDefault();
  runWithStatus(button, status, async (ui) => {
    ui.step(form.dataset.drawing);
    const { secret, hashlock } = await drawSecret();
    keepSecret(hashlock, secret); // before the request: a lost answer must not lose the secret
    let swap;
    try {
      swap = await api("/api/v1/swaps/", {
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
  });
});
