// The swap page: send the prepared next step with the browser wallet, and follow the swap
// live over /ws/swaps/{id}/ (the page reloads its server view when the state changes).
//
// The taker's secret stays in this browser (localStorage, and a backup file): it only ever
// leaves inside the redeem transaction, which the wallet sends to the chain, never to us.
import { connectLive } from "./live.js";
import { WalletError, connect, runWithStatus, sendPrepared } from "./wallet.js";
import { swapApi } from "./swap-api.js";
import { renderTimes } from "./swap-times.js";

// redeem(bytes32,bytes32): the taker encodes it with the secret, which never leaves here.
const REDEEM_SELECTOR = "0xb31597ad";
const SECRET_RE = /^0x[0-9a-f]{64}$/;
const script = document.querySelector("script[data-swap]"); // modules have no currentScript
const swapId = script?.dataset.swap;
const shownState = script?.dataset.state;
const action = JSON.parse(document.getElementById("next-action").textContent);
const hashlock = JSON.parse(document.getElementById("swap-hashlock").textContent);
const secretNeeded = JSON.parse(document.getElementById("secret-needed").textContent);
const button = document.getElementById("next-button");
const status = document.getElementById("next-status");
const message = document.getElementById("next-message");
const secretInput = document.getElementById("secret-input");
const liveBadge = document.getElementById("swap-live");
// A step this browser sent and saw confirmed, until the swap's state moves on.
const SENT_KEY = `swap-sent:${swapId}`;

/** This page's own texts (rendered by the template in the page's language). */
function text(key, vars = {}) {
  const node = document.getElementById("swap-messages")?.content.querySelector(`[data-key="${key}"]`);
  const template = node ? node.textContent.trim() : key;
  return template.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}

function storage(method, ...args) {
  try {
    return localStorage[method](...args);
  } catch {
    return null; // storage disabled (private mode): the backup file and the field remain
  }
}

const storedSecret = () => storage("getItem", `swap-secret:${hashlock}`) || "";

if (secretInput && !secretInput.value) secretInput.value = storedSecret();

// The recovery kit (from the server, without the secret): this browser adds the secret and
// the redeem call data of the seller's lock, then offers the file. It lets a party redeem or
// refund with any wallet, on the recovery page or with `manage.py swap_recover`, without us.
const kit = JSON.parse(document.getElementById("recovery-kit")?.textContent || "null");
const kitLink = document.getElementById("recovery-download");

export function kitWithSecret(base, secret) {
  const full = structuredClone(base);
  if (secret && full.role === "taker") {
    full.secret = secret;
    const leg = full.legs.maker;
    leg.redeem.data = REDEEM_SELECTOR + leg.lock_id.slice(2) + secret.slice(2);
  }
  return full;
}

function offerKit() {
  if (!kit || !kitLink) return;
  const body = JSON.stringify(kitWithSecret(kit, storedSecret()), null, 2);
  if (kitLink.href.startsWith("blob:")) URL.revokeObjectURL(kitLink.href);
  kitLink.href = URL.createObjectURL(new Blob([body], { type: "application/json" }));
  kitLink.download = `swap-${swapId}.recovery.json`;
  kitLink.hidden = false;
}
offerKit();

// A fresh browser has no secret: say so, and take it from the recovery file.
const missing = document.getElementById("secret-missing");
if (secretNeeded && !storedSecret() && missing) {
  missing.hidden = false;
  document.getElementById("secret-file")?.addEventListener("change", async (event) => {
    const file = event.target.files?.[0];
    let secret = "";
    try {
      const loaded = JSON.parse(await file.text());
      secret = String(loaded.secret || "").toLowerCase();
    } catch {
      secret = "";
    }
    const status = document.getElementById("next-status");
    if (!SECRET_RE.test(secret) || (await sha256Hex(secret)) !== hashlock) {
      status.hidden = false;
      status.dataset.walletState = "error";
      status.textContent = text("not_a_kit");
      return;
    }
    storage("setItem", `swap-secret:${hashlock}`, secret);
    if (secretInput) secretInput.value = secret;
    missing.hidden = true;
    status.hidden = false;
    status.dataset.walletState = "done";
    status.textContent = text("secret_loaded");
    offerKit();
  });
}
let reloading = false;
// This page's own forms (cancel, dispute) come back to it: no warning for those.
for (const form of document.querySelectorAll("#cancel-button, #dispute-form")) {
  (form.form ?? form).addEventListener("submit", () => {
    reloading = true;
  });
}
window.addEventListener("beforeunload", (event) => {
  if (secretNeeded && !reloading) {
    event.preventDefault();
    event.returnValue = "";
  }
});

function reload() {
  reloading = true;
  window.location.reload();
}

async function sha256Hex(hex) {
  const bytes = new Uint8Array(hex.slice(2).match(/../g).map((b) => Number.parseInt(b, 16)));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `0x${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The transaction to send: the server's, or for the taker's redeem one encoded here. */
async function prepared() {
  if (action.action !== "redeem" || action.data) return action;
  const secret = (secretInput?.value || "").trim().toLowerCase();
  if (!SECRET_RE.test(secret)) throw new WalletError("bad_secret", text("bad_secret"));
  // A wrong secret would only make the wallet's gas estimate fail with a cryptic error.
  if ((await sha256Hex(secret)) !== hashlock) throw new WalletError("wrong_secret", text("wrong_secret"));
  const data = REDEEM_SELECTOR + action.lock_id.slice(2) + secret.slice(2);
  return { network: action.network, chain_id: action.chain_id, to: action.to, data, value: "0" };
}

/** Steps that must come from one address (locks, approvals) are refused from another. */
async function checkAccount(ui) {
  if (!action.from) return;
  const { address } = await connect({ ui });
  if (address.toLowerCase() !== action.from.toLowerCase()) {
    throw new WalletError("wrong_account", text("wrong_account", { current: address, expected: action.from }));
  }
}

function waitForNetwork(hash) {
  button.hidden = true;
  message.textContent = text("sent_waiting");
  if (hash) message.dataset.sentHash = hash;
}

async function send(ui) {
  const tx = await prepared();
  await checkAccount(ui);
  const { hash } = await sendPrepared(tx, { ui });
  if (action.action === "approve") {
    // The state does not change with an approval, so no live update comes: the next step
    // (the lock) is read again from the server.
    ui.step(text("refreshing"));
    reload();
    return;
  }
  // Until the watcher has confirmed it the server still offers this step (for a lock, an
  // approval again): say so, and remember it across reloads instead of offering it twice.
  storage("setItem", SENT_KEY, JSON.stringify({ state: shownState, action: action.action, hash }));
  waitForNetwork(hash);
}

const sent = JSON.parse(storage("getItem", SENT_KEY) || "null");
if (sent?.state === shownState) waitForNetwork(sent.hash);
else if (sent) storage("removeItem", SENT_KEY);

// A live update that arrives while a transaction is on its way waits for it to finish.
let stale = false;
button?.addEventListener("click", async () => {
  await runWithStatus(button, status, send);
  if (stale) reload();
});

// Messages between the parties: sent through the API, shown at once; the other party's
// arrive over the WebSocket (and so do ours, once: each is shown by its id).
const chat = document.getElementById("chat");
const messageForm = document.getElementById("message-form");

function showMessage(m) {
  if (!chat || chat.querySelector(`[data-id="${m.id}"]`)) return;
  document.getElementById("chat-empty")?.remove();
  const when = document.createElement("time");
  when.setAttribute("datetime", m.created_at);
  when.dataset.local = "";
  when.textContent = m.created_at;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = m.mine ? text("you") : m.author;
  const body = document.createElement("p");
  body.textContent = m.body;
  const item = document.createElement("li");
  item.dataset.id = String(m.id);
  item.dataset.mine = String(Boolean(m.mine));
  const small = document.createElement("small");
  small.className = "muted";
  small.append(when);
  item.append(who, " ", small, body);
  chat.append(item);
  renderTimes(item);
}

messageForm?.addEventListener("submit", (event) => {
  event.preventDefault();
  const sendButton = document.getElementById("message-send");
  runWithStatus(sendButton, document.getElementById("message-status"), async () => {
    const body = messageForm.elements.body.value.trim();
    const m = await swapApi(`/api/v1/swaps/${swapId}/messages`, { body });
    showMessage(m);
    messageForm.elements.body.value = "";
    document.getElementById("message-status").hidden = true;
  });
});

const LIVE_TEXT = { live: "live_on", reconnecting: "live_reconnecting", offline: "live_offline", refused: "live_refused" };

if (swapId) {
  connectLive(`/ws/swaps/${swapId}/`, {
    onStatus(state) {
      if (!liveBadge || !LIVE_TEXT[state]) return;
      liveBadge.dataset.liveState = state;
      liveBadge.textContent = text(LIVE_TEXT[state]);
    },
    onMessage(update) {
      if (update.type === "message") {
        showMessage(update.message);
        return;
      }
      if (update.type === "dispute" && !reloading) {
        if (button?.getAttribute("aria-busy") === "true") stale = true;
        else reload();
        return;
      }
      if (update.type !== "swap" || update.swap.state === shownState || reloading) return;
      if (button?.getAttribute("aria-busy") === "true") stale = true;
      else reload();
    },
  });
}
