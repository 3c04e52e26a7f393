// Internet Identity buttons (templates/accounts/_ii_sign_in.html and _icp.html):
//   <button data-ii-action="sign-in" data-ii-provider="…" data-ii-src="…" data-next="/path"
//           data-ii-terms="checkbox id" data-ii-status="status id">
//   <button data-ii-action="link" …>
// A click opens the Internet Identity window (@dfinity/auth-client, bundled into
// static/vendor/internet-identity.js) with a fresh session key, then asks the server for a
// nonce, signs its challenge with the session key and sends the delegation chain and the
// signature: the server verifies both and signs in, or links the principal.
// Texts come from <template id="ii-messages"> (translated by Django), as in messages.js.

import { api, runWithStatus, safeNext, WalletError } from "./wallet.js";

const catalog = document.getElementById("ii-messages");
const say = (key) => catalog?.content.querySelector(`[data-key="${CSS.escape(key)}"]`)?.textContent.trim() ?? key;

// The delegation only has to outlive one proof; the server checks it is unexpired.
const DELEGATION_TTL_NS = 10n * 60n * 1_000_000_000n;

// API codes shown with our own text; others show the server's `detail`.
const CODES = {
  nonce_unknown: "expired",
  nonce_used: "expired",
  nonce_expired: "expired",
  nonce_mismatch: "expired",
  delegation_expired: "expired",
  terms_not_accepted: "terms_not_accepted",
  principal_taken: "principal_taken",
  account_disabled: "account_disabled",
  throttled: "throttled",
};

const hex = (bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
const bytes = (text) => new Uint8Array(text.match(/../g).map((h) => parseInt(h, 16)));

// One session key and AuthClient per page, made before the click: the window must open
// while the click still counts as a user gesture, or the browser blocks the popup.
const clients = new Map();
function prepare(src) {
  if (!clients.has(src)) {
    clients.set(
      src,
      import(src).then(async ({ AuthClient, ECDSAKeyIdentity }) => {
        const memory = new Map(); // nothing persists: the delegation is used once, here
        return AuthClient.create({
          identity: await ECDSAKeyIdentity.generate(),
          storage: {
            get: async (key) => memory.get(key) ?? null,
            set: async (key, value) => void memory.set(key, value),
            remove: async (key) => void memory.delete(key),
          },
          idleOptions: { disableIdle: true },
        });
      }),
    );
  }
  return clients.get(src);
}

function login(client, provider) {
  return new Promise((resolve, reject) => {
    client.login({
      identityProvider: provider,
      maxTimeToLive: DELEGATION_TTL_NS,
      onSuccess: () => resolve(client.getIdentity()),
      onError: (reason) => reject(new WalletError("ii_closed", say(reason === "UserInterrupt" ? "closed" : "failed"))),
    });
  });
}

async function prove(button, ui, purpose) {
  const client = await prepare(button.dataset.iiSrc);
  ui.step(say("window"));
  const identity = await login(client, button.dataset.iiProvider);
  ui.step(say("verifying"));
  try {
    const { nonce, challenge } = await api("/api/v1/auth/ii/nonce", { purpose });
    const signature = await identity.sign(bytes(challenge));
    return { nonce, delegation_chain: identity.getDelegation().toJSON(), signature: hex(signature) };
  } finally {
    await client.logout(); // forget the session key and its delegation
  }
}

async function send(path, body) {
  try {
    return await api(path, body);
  } catch (error) {
    const key = CODES[error.code];
    throw key ? new WalletError(error.code, say(key)) : error;
  }
}

const ACTIONS = {
  async "sign-in"(button, ui) {
    const terms = document.getElementById(button.dataset.iiTerms ?? "");
    const proof = await prove(button, ui, "sign_in");
    await send("/api/v1/auth/ii/verify", { ...proof, accept_terms: Boolean(terms?.checked) });
    ui.done(say("signed_in"));
    location.assign(safeNext(button.dataset.next));
  },
  async link(button, ui) {
    const proof = await prove(button, ui, "link");
    await send("/api/v1/me/icp-principal", proof);
    ui.done(say("linked"));
    location.reload();
  },
};

for (const button of document.querySelectorAll("[data-ii-action]")) {
  const action = ACTIONS[button.dataset.iiAction];
  if (!action) continue;
  let status = document.getElementById(button.dataset.iiStatus ?? "");
  if (!status) {
    status = document.createElement("div");
    status.className = "wallet-status";
    status.hidden = true;
    button.after(status);
  }
  prepare(button.dataset.iiSrc).catch(() => {}); // a failure shows on click
  button.hidden = false; // buttons start hidden: without this script they could do nothing
  button.addEventListener("click", () => runWithStatus(button, status, (ui) => action(button, ui)));
}
