// Browser wallets (EIP-1193): find them (EIP-6963, else window.ethereum, plus WalletConnect
// when the site has a project id), connect, switch or add networks, Sign-In with Ethereum
// (EIP-4361) and send the transactions the API prepares, following them to confirmation.
//
// Every failure is a WalletError whose `code` is a stable snake_case word and whose message
// says what happened and what to do next, in the page's language (see messages.js).
// Each step reports progress to a `ui` (see statusPanel) so the page shows a loading state.

import { t } from "./messages.js";

const USER_REJECTED = 4001;
const UNAUTHORIZED = 4100;
const UNSUPPORTED_METHOD = 4200;
const DISCONNECTED = 4900;
const CHAIN_DISCONNECTED = 4901;
const UNRECOGNIZED_CHAIN = 4902;
const REQUEST_PENDING = -32002;
const RECEIPT_POLL_MS = 1500;
const RECEIPT_SLOW_MS = 5 * 60 * 1000;

export class WalletError extends Error {
  constructor(code, message, { cause, walletCode } = {}) {
    super(message, { cause });
    this.name = "WalletError";
    this.code = code;
    this.walletCode = walletCode;
  }
}

// ---------------------------------------------------------------- discovery

const announced = new Map();
window.addEventListener("eip6963:announceProvider", (event) => {
  const { info, provider } = event.detail ?? {};
  if (info?.uuid && typeof provider?.request === "function") {
    announced.set(info.uuid, { id: info.uuid, name: info.name, icon: info.icon, rdns: info.rdns, provider });
  }
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The wallets this browser offers: those announced through EIP-6963 or, when none is,
 * `window.ethereum`; then WalletConnect when the site has a project id.
 */
export async function discoverWallets({ wait = 300 } = {}) {
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  if (!announced.size) await sleep(wait); // extensions answer at once; give late ones a moment
  const wallets = [...announced.values()];
  if (!wallets.length && typeof window.ethereum?.request === "function") {
    const name = window.ethereum.isMetaMask ? "MetaMask" : t("browser_wallet");
    wallets.push({ id: "window.ethereum", name, icon: "", rdns: "", provider: window.ethereum });
  }
  const projectId = document.body.dataset.walletconnectProjectId;
  if (projectId) {
    wallets.push({ id: "walletconnect", name: t("walletconnect"), icon: "", rdns: "", provider: null, projectId });
  }
  return wallets;
}

async function walletConnectProvider(projectId) {
  const { EthereumProvider } = await import(document.body.dataset.walletconnectSrc);
  const networks = await networkList();
  const provider = await EthereumProvider.init({
    projectId,
    optionalChains: networks.map((n) => n.chain_id),
    rpcMap: Object.fromEntries(networks.filter((n) => n.rpc_url).map((n) => [n.chain_id, n.rpc_url])),
    showQrModal: true, // a QR code on desktop, a deep link into the wallet app on phones
    metadata: { name: document.title, description: document.title, url: location.origin, icons: [] },
  });
  await provider.connect();
  return provider;
}

// ---------------------------------------------------------------- errors

/** A WalletError for anything a wallet threw, by its EIP-1193 / JSON-RPC code. */
export function walletError(error, context = {}) {
  if (error instanceof WalletError) return error;
  const code = error?.code ?? error?.data?.originalError?.code ?? error?.cause?.code;
  const detail = String(error?.message ?? error ?? "");
  const make = (key, vars) => new WalletError(key, t(key, vars), { cause: error, walletCode: code });
  if (code === USER_REJECTED || /user (rejected|denied)/i.test(detail)) return make("rejected");
  if (code === REQUEST_PENDING) return make("request_pending");
  if (code === UNAUTHORIZED) return make("unauthorized");
  if (code === UNSUPPORTED_METHOD) return make("unsupported_method");
  if (code === DISCONNECTED || code === CHAIN_DISCONNECTED) return make("disconnected");
  if (/insufficient funds/i.test(detail)) return make("insufficient_funds");
  return make("wallet_error", { detail: detail || String(code), ...context });
}

async function call(provider, method, params) {
  try {
    return await provider.request(params === undefined ? { method } : { method, params });
  } catch (error) {
    throw walletError(error);
  }
}

// ---------------------------------------------------------------- server API

function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  return document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

// API error codes with a more helpful text than the server's English `detail`.
const API_ERRORS = {
  throttled: "throttled",
  nonce_unknown: "siwe_expired",
  nonce_used: "siwe_expired",
  nonce_mismatch: "siwe_expired",
  message_expired: "siwe_expired",
  message_not_yet_valid: "siwe_expired",
  signature_invalid: "signature_invalid",
  wallet_taken: "wallet_taken",
  account_disabled: "account_disabled",
  chain_unavailable: "chain_unavailable",
  not_authenticated: "not_signed_in",
};

/** POST (or GET without body) JSON to our API; errors become WalletErrors with the API's code. */
export async function api(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new WalletError("server_unreachable", t("server_unreachable"), { cause: error });
  }
  let payload = {};
  try {
    payload = await response.json();
  } catch {
    // an empty or non-JSON answer: the status code decides
  }
  if (response.ok) return payload;
  const code = payload.code ?? `http_${response.status}`;
  const key = API_ERRORS[code];
  const message = key ? t(key) : t("server_error", { detail: payload.detail ?? response.statusText });
  throw new WalletError(code, message);
}

let networksPromise = null;

/** Enabled networks from /api/v1/chains/ (chain_id, rpc_url, explorer_url, ...), once a page. */
export function networkList() {
  if (!networksPromise) {
    networksPromise = api("/api/v1/chains/?page_size=100").then((page) => page.results ?? page);
    networksPromise.catch(() => {
      networksPromise = null; // ask again next time
    });
  }
  return networksPromise;
}

async function networkFor(chainId) {
  return (await networkList()).find((n) => n.chain_id === chainId);
}

// ---------------------------------------------------------------- connection

let session = null; // { provider, address, name }

/** The connected wallet, if any (after connect()). */
export function currentSession() {
  return session;
}

function remember(provider, address, name) {
  if (session?.provider !== provider) {
    provider.on?.("accountsChanged", (accounts) => {
      if (session?.provider !== provider) return;
      if (accounts?.length) session.address = accounts[0];
      else session = null; // locked or disconnected: the next action asks again
    });
    provider.on?.("disconnect", () => {
      if (session?.provider === provider) session = null;
    });
  }
  session = { provider, address, name };
  return session;
}

/**
 * Connect a wallet (eth_requestAccounts): the only one found, or the one the person picks.
 * Raises WalletError `no_wallet`, `cancelled`, `rejected`, `no_account`, ...
 */
export async function connect({ ui = silentUi } = {}) {
  if (session) return session;
  ui.step(t("looking_for_wallet"));
  const wallets = await discoverWallets();
  if (!wallets.length) throw new WalletError("no_wallet", t("no_wallet"));
  const wallet = wallets.length === 1 ? wallets[0] : await ui.choose(wallets);
  ui.step(t("connecting"));
  const provider = wallet.provider ?? (await walletConnectProvider(wallet.projectId).catch((e) => {
    throw walletError(e);
  }));
  const accounts = await call(provider, "eth_requestAccounts");
  if (!accounts?.length) throw new WalletError("no_account", t("no_account"));
  return remember(provider, accounts[0], wallet.name);
}

export async function chainIdOf(provider) {
  return Number.parseInt(await call(provider, "eth_chainId"), 16);
}

const hexChainId = (chainId) => `0x${Number(chainId).toString(16)}`;

function addChainParams(network) {
  const params = {
    chainId: hexChainId(network.chain_id),
    chainName: network.name,
    rpcUrls: [network.rpc_url],
    nativeCurrency: { name: network.native_symbol, symbol: network.native_symbol, decimals: 18 },
  };
  if (network.explorer_url) params.blockExplorerUrls = [network.explorer_url];
  return params;
}

/**
 * Put the wallet on `chainId`: wallet_switchEthereumChain, and when the wallet does not
 * know the network, wallet_addEthereumChain with the parameters from /api/v1/chains/.
 */
export async function switchNetwork(chainId, { ui = silentUi } = {}) {
  const { provider } = session ?? (await connect({ ui }));
  if ((await chainIdOf(provider)) === chainId) return;
  const network = await networkFor(chainId);
  if (!network) throw new WalletError("network_unknown", t("network_unknown", { chain_id: chainId }));
  const vars = { network: network.name };
  ui.step(t("switching", vars));
  try {
    await call(provider, "wallet_switchEthereumChain", [{ chainId: hexChainId(chainId) }]);
  } catch (error) {
    if (error.walletCode !== UNRECOGNIZED_CHAIN && !/unrecognized chain/i.test(error.cause?.message ?? "")) {
      throw error;
    }
    if (!network.rpc_url) throw new WalletError("network_not_addable", t("network_not_addable", vars));
    ui.step(t("adding_network", vars));
    await call(provider, "wallet_addEthereumChain", [addChainParams(network)]);
    // Some wallets switch while adding; the others need asking again.
    if ((await chainIdOf(provider)) !== chainId) {
      await call(provider, "wallet_switchEthereumChain", [{ chainId: hexChainId(chainId) }]);
    }
  }
  if ((await chainIdOf(provider)) !== chainId) throw new WalletError("wrong_network", t("wrong_network", vars));
}

// ---------------------------------------------------------------- Sign-In with Ethereum

function utf8Hex(text) {
  return `0x${Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Only a path on this site, never another origin (no open redirect through ?next=). */
export function safeNext(next) {
  return typeof next === "string" && /^\/(?![/\\])/.test(next) ? next : "/";
}

async function signedSiwe(ui) {
  const { provider, address } = await connect({ ui });
  let chainId = await chainIdOf(provider);
  const networks = await networkList();
  if (!networks.some((n) => n.chain_id === chainId)) {
    if (!networks.length) throw new WalletError("no_networks", t("no_networks"));
    chainId = networks[0].chain_id;
    await switchNetwork(chainId, { ui });
  }
  ui.step(t("preparing"));
  const { message } = await api("/api/v1/auth/siwe/nonce", { address, chain_id: chainId });
  ui.step(t("sign_message"));
  const signature = await call(provider, "personal_sign", [utf8Hex(message), address]);
  ui.step(t("verifying"));
  return { message, signature };
}

/** Sign in (or sign up) with the wallet's address, then go to `next` (a path on this site). */
export async function signIn({ ui = silentUi, next = "/" } = {}) {
  const body = await signedSiwe(ui);
  await api("/api/v1/auth/siwe/verify", body);
  ui.done(t("signed_in"));
  location.assign(safeNext(next));
}

/** Link the wallet's address to the signed-in account (POST /api/v1/auth/siwe/link), then reload. */
export async function linkWallet({ ui = silentUi } = {}) {
  const body = await signedSiwe(ui);
  const result = await api("/api/v1/auth/siwe/link", body);
  ui.done(t("linked"));
  location.reload();
  return result;
}

// ---------------------------------------------------------------- prepared transactions

function quantity(value, field) {
  // Amounts stay integers (wei as decimal or 0x strings), never floating point.
  if (value === undefined || value === null || value === "") return "0x0";
  if (typeof value === "string" && /^0x[0-9a-f]+$/i.test(value)) return value.toLowerCase();
  if (!/^\d+$/.test(String(value))) throw new WalletError("bad_transaction", t("bad_transaction", { field }));
  return `0x${BigInt(String(value)).toString(16)}`;
}

function checkedTransaction(tx) {
  const bad = (field) => new WalletError("bad_transaction", t("bad_transaction", { field }));
  if (!Number.isInteger(tx?.chain_id)) throw bad("chain_id");
  if (!/^0x[0-9a-fA-F]{40}$/.test(tx.to ?? "")) throw bad("to");
  if (tx.data !== undefined && !/^0x([0-9a-fA-F]{2})*$/.test(tx.data)) throw bad("data");
  return { chainId: tx.chain_id, to: tx.to, data: tx.data ?? "0x", value: quantity(tx.value, "value") };
}

/** Explorer page of a transaction, or "" when the network has no explorer. */
export function explorerTxUrl(network, hash) {
  return network?.explorer_url ? `${network.explorer_url.replace(/\/+$/, "")}/tx/${hash}` : "";
}

async function receiptOf(provider, hash, chainId, network, ui, pollMs) {
  const started = Date.now();
  let slowShown = false;
  for (;;) {
    await sleep(pollMs);
    let receipt = null;
    try {
      if ((await chainIdOf(provider)) !== chainId) {
        ui.step(t("tx_follow_network", { network: network?.name ?? chainId }));
        continue;
      }
      receipt = await call(provider, "eth_getTransactionReceipt", [hash]);
    } catch (error) {
      if (error.code === "rejected") throw error;
      continue; // a flaky RPC answer: ask again
    }
    if (receipt) return receipt;
    if (!slowShown && Date.now() - started > RECEIPT_SLOW_MS) {
      slowShown = true;
      ui.step(t("tx_slow"));
    }
  }
}

/**
 * Send a transaction the API prepared ({network, chain_id, to, data, value}) from the
 * connected wallet: switch network first, then show pending and confirmed (with an
 * explorer link when the network has an explorer). Resolves with {hash, receipt}.
 * Raises WalletError `bad_transaction`, `rejected`, `wrong_network`, `tx_failed`, ...
 */
export async function sendPrepared(tx, { ui = silentUi, pollMs = RECEIPT_POLL_MS } = {}) {
  const prepared = checkedTransaction(tx);
  const { provider } = await connect({ ui });
  await switchNetwork(prepared.chainId, { ui });
  const { address } = session;
  ui.step(t("confirm_tx"));
  const hash = await call(provider, "eth_sendTransaction", [
    { from: address, to: prepared.to, data: prepared.data, value: prepared.value },
  ]);
  const network = await networkFor(prepared.chainId);
  const link = explorerTxUrl(network, hash);
  ui.pending(t("tx_pending"), { hash, link });
  const receipt = await receiptOf(provider, hash, prepared.chainId, network, ui, pollMs);
  if (receipt.status !== "0x1") {
    throw new WalletError("tx_failed", t("tx_failed"), { cause: receipt });
  }
  ui.confirmed(t("tx_confirmed", { block: Number.parseInt(receipt.blockNumber, 16) }), { hash, link });
  return { hash, receipt };
}

// ---------------------------------------------------------------- status display

export const silentUi = {
  step() {},
  done() {},
  pending() {},
  confirmed() {},
  error() {},
  async choose(wallets) {
    return wallets[0];
  },
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/**
 * A status area for one button: progress in a polite live region, errors as an alert,
 * the wallet chooser, and the pending/confirmed transaction with its explorer link.
 * `busy(button)` / `idle(button)` give the button its loading state.
 */
export function statusPanel(container) {
  const say = (kind, ...children) => {
    container.hidden = false;
    container.dataset.walletState = kind;
    container.setAttribute("role", kind === "error" ? "alert" : "status");
    container.replaceChildren(el("p", { class: `wallet-${kind}` }, ...children));
  };
  const txLine = (text, { hash, link }) => {
    const parts = [text, " ", el("code", { class: "tx-hash" }, hash)];
    if (link) parts.push(" ", el("a", { href: link, target: "_blank", rel: "noopener" }, t("view_explorer")));
    return parts;
  };
  return {
    busy(button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      button.classList.add("is-busy");
    },
    idle(button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.classList.remove("is-busy");
    },
    step: (text) => say("step", text),
    done: (text) => say("done", text),
    pending: (text, tx) => say("pending", ...txLine(text, tx)),
    confirmed: (text, tx) => say("confirmed", ...txLine(text, tx)),
    error: (error) => say("error", walletError(error).message),
    choose(wallets) {
      return new Promise((resolve, reject) => {
        container.hidden = false;
        container.dataset.walletState = "choose";
        container.removeAttribute("role"); // the fieldset inside is the named group
        const buttons = wallets.map((wallet) => {
          const button = el("button", { type: "button", class: "wallet-choice" });
          if (wallet.icon) button.append(el("img", { src: wallet.icon, alt: "", width: "24", height: "24" }));
          button.append(wallet.name);
          button.addEventListener("click", () => resolve(wallet));
          return button;
        });
        const cancel = el("button", { type: "button", class: "link-button" }, t("cancel"));
        cancel.addEventListener("click", () => reject(new WalletError("cancelled", t("cancelled"))));
        const list = el("fieldset", { class: "wallet-chooser" }, el("legend", {}, t("choose_wallet")), ...buttons, cancel);
        container.replaceChildren(list);
        buttons[0]?.focus();
      });
    },
  };
}

/** Run `action(ui)` for a button: loading state while it runs, any error shown in `container`. */
export async function runWithStatus(button, container, action) {
  const ui = statusPanel(container);
  ui.busy(button);
  try {
    return await action(ui);
  } catch (error) {
    ui.error(error);
    return undefined;
  } finally {
    ui.idle(button);
  }
}
