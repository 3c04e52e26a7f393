// The swap page: send the prepared next step with the browser wallet, and follow the swap
// live over /ws/swaps/{id}/ (the page reloads its server view when the state changes).
import { connectLive } from "./live.js";
import { runWithStatus, sendPrepared } from "./wallet.js";

// redeem(bytes32,bytes32): the taker encodes it with the secret, which never leaves here.
const REDEEM_SELECTOR = "0xb31597ad";
const script = document.currentScript || document.querySelector("script[data-swap]");
const swapId = script?.dataset.swap;
const action = JSON.parse(document.getElementById("next-action").textContent);
const hashlock = JSON.parse(document.getElementById("swap-hashlock").textContent);
const button = document.getElementById("next-button");
const status = document.getElementById("next-status");
const secretInput = document.getElementById("secret-input");

function storedSecret() {
  try {
    return localStorage.getItem(`swap-secret:${hashlock}`) || "";
  } catch {
    return "";
  }
}

if (secretInput && !secretInput.value) secretInput.value = storedSecret();

// The secret is still needed: offer its backup, and warn before the page is left.
const secretNeeded = JSON.parse(document.getElementById("secret-needed").textContent);
const backup = document.getElementById("secret-backup");
if (secretNeeded && storedSecret() && backup) {
  const body = JSON.stringify({ swap: swapId, hashlock, secret: storedSecret() }, null, 2);
  const link = document.getElementById("secret-download");
  link.href = URL.createObjectURL(new Blob([body], { type: "application/json" }));
  link.download = `swap-${swapId}-secret.json`;
  backup.hidden = false;
}
let reloading = false;
window.addEventListener("beforeunload", (event) => {
  if (secretNeeded && !reloading) {
    event.preventDefault();
    event.returnValue = "";
  }
});

function prepared() {
  if (action.action !== "redeem" || action.data) return action;
  const secret = (secretInput?.value || "").trim().toLowerCase();
  if (!/^0x[0-9a-f]{64}$/.test(secret)) {
    throw new Error(secretInput?.labels?.[0]?.textContent || "secret");
  }
  const data = REDEEM_SELECTOR + action.lock_id.slice(2) + secret.slice(2);
  return { network: action.network, chain_id: action.chain_id, to: action.to, data, value: "0" };
}

button?.addEventListener("click", () =>
  runWithStatus(button, status, (ui) => sendPrepared(prepared(), { ui })),
);

if (swapId) {
  const shown = document.getElementById("swap-state")?.dataset.state;
  connectLive(`/ws/swaps/${swapId}/`, {
    onMessage(message) {
      if (message.type === "swap" && message.swap.state !== shown) {
        reloading = true;
        window.location.reload();
      }
    },
  });
}
