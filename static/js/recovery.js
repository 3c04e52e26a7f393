// The recovery page: read a swap's recovery file in this browser (nothing is uploaded), show
// each lock and what its chain says about it now, and send the refund or the redeem that can
// be sent now with the browser's wallet (EIP-1193). It needs nothing from this site: the same
// code runs inlined in the page saved by "Download the recovery page" (file://, site down).
// Reads go to the file's public RPC URL, else through the wallet once connected.
(() => {
  const GET_LOCK = "0xd6f27b58"; // getLock(bytes32)
  const REDEEM = "0xb31597ad"; // redeem(bytes32,bytes32)
  // The contract's lock states 0-3, named for what happened to the coins.
  const STATES = ["none", "locked", "paid", "returned"];
  const lang = document.documentElement.lang || undefined;
  const dateFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" });
  const $ = (id) => document.getElementById(id);

  function text(key, vars = {}) {
    const node = $("recovery-texts")?.content.querySelector(`[data-key="${key}"]`);
    const template = node ? node.textContent.trim() : key;
    return template.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  function say(kind, message) {
    const box = $("recovery-status");
    box.hidden = false;
    box.dataset.state = kind;
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    box.textContent = message;
  }

  const word = (hex) => hex.toLowerCase().replace(/^0x/, "").padStart(64, "0");
  const localTime = (unix) => dateFormat.format(new Date(unix * 1000));

  // ------------------------------------------------------------ the file

  function legsOf(kit) {
    if (!kit || kit.format !== "p2pswap-recovery/1" || !kit.legs) throw new Error(text("not_a_kit"));
    return ["taker", "maker"].map((role) => {
      const leg = kit.legs[role];
      const mine = role === kit.role;
      let redeem = mine ? null : leg.redeem?.data || null;
      if (!mine && !redeem && /^0x[0-9a-f]{64}$/i.test(kit.secret || "")) {
        redeem = REDEEM + word(leg.lock_id) + word(kit.secret);
      }
      return { ...leg, role, mine, redeemData: redeem };
    });
  }

  // ------------------------------------------------------------ the chain

  let wallet = null; // { provider, address }

  async function rpcFetch(url, method, params) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const body = await response.json();
    if (body.error) throw new Error(body.error.message || "RPC error");
    return body.result;
  }

  async function read(leg, method, params) {
    if (leg.rpc_url) {
      try {
        return await rpcFetch(leg.rpc_url, method, params);
      } catch {
        // unreachable from here (site down, CORS): ask the wallet instead
      }
    }
    if (!wallet) throw new Error(text("connect_to_check"));
    await switchTo(leg);
    return wallet.provider.request({ method, params });
  }

  async function lockNow(leg) {
    const answer = await read(leg, "eth_call", [{ to: leg.contract, data: GET_LOCK + word(leg.lock_id) }, "latest"]);
    const block = await read(leg, "eth_getBlockByNumber", ["latest", false]);
    const words = String(answer).replace(/^0x/, "");
    if (words.length < 7 * 64) throw new Error(text("no_contract"));
    return {
      state: STATES[Number.parseInt(words.slice(6 * 64, 7 * 64), 16)] || "none",
      timelock: Number.parseInt(words.slice(5 * 64, 6 * 64), 16),
      now: Number.parseInt(block.timestamp, 16),
    };
  }

  function stepFor(leg, found) {
    if (found.state !== "locked") return null;
    if (leg.mine) return found.now >= found.timelock ? "refund" : null;
    return leg.redeemData && found.now < found.timelock ? "redeem" : null;
  }

  // ------------------------------------------------------------ the wallet

  function providers() {
    const found = [];
    window.addEventListener("eip6963:announceProvider", (event) => found.push(event.detail.provider), { once: false });
    window.dispatchEvent(new Event("eip6963:requestProvider"));
    return new Promise((resolve) => setTimeout(() => resolve(found.length ? found : window.ethereum ? [window.ethereum] : []), 300));
  }

  async function connect() {
    if (wallet) return wallet;
    const [provider] = await providers();
    if (!provider) throw new Error(text("no_wallet"));
    const [address] = await provider.request({ method: "eth_requestAccounts" });
    if (!address) throw new Error(text("no_wallet"));
    wallet = { provider, address };
    return wallet;
  }

  async function switchTo(leg) {
    const { provider } = await connect();
    const target = `0x${Number(leg.chain_id).toString(16)}`;
    if ((await provider.request({ method: "eth_chainId" })).toLowerCase() === target) return;
    try {
      await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: target }] });
    } catch (error) {
      if (error?.code !== 4902 || !leg.rpc_url) throw error;
      await provider.request({
        method: "wallet_addEthereumChain",
        params: [{ chainId: target, chainName: leg.network, rpcUrls: [leg.rpc_url], nativeCurrency: { name: leg.native_symbol || "ETH", symbol: leg.native_symbol || "ETH", decimals: 18 } }],
      });
    }
  }

  async function send(leg, step) {
    const { provider, address } = await connect();
    say("step", text("switching", { network: leg.network }));
    await switchTo(leg);
    say("step", text("confirm"));
    const data = step === "refund" ? leg.refund.data : leg.redeemData;
    const hash = await provider.request({ method: "eth_sendTransaction", params: [{ from: address, to: leg.contract, data, value: "0x0" }] });
    say("pending", text("pending", { hash }));
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      const receipt = await provider.request({ method: "eth_getTransactionReceipt", params: [hash] });
      if (!receipt) continue;
      if (receipt.status !== "0x1") throw new Error(text("failed", { hash }));
      say("done", text(`sent_${step}`, { hash }));
      return hash;
    }
  }

  // ------------------------------------------------------------ the page

  async function showLeg(leg, card) {
    const status = card.querySelector("[data-lock-status]");
    const actions = card.querySelector("[data-actions]");
    actions.replaceChildren();
    let found;
    try {
      found = await lockNow(leg);
    } catch (error) {
      status.textContent = error.message || String(error);
      card.dataset.state = "unknown";
      if (!wallet) {
        const check = el("button", { type: "button" }, text("check_with_wallet"));
        check.addEventListener("click", () => run(() => connect().then(() => showLeg(leg, card))));
        actions.append(check);
      }
      return;
    }
    card.dataset.state = found.state;
    const key = `state_${found.state}`;
    status.textContent = text(key, { time: localTime(found.timelock), sender: leg.sender, recipient: leg.recipient });
    const step = stepFor(leg, found);
    if (step) {
      const button = el("button", { type: "button", class: "primary", "data-step": step }, text(step === "refund" ? "refund_button" : "redeem_button"));
      button.addEventListener("click", () =>
        run(async () => {
          button.disabled = true;
          await send(leg, step);
          await showLeg(leg, card);
        }).finally(() => {
          button.disabled = false;
        }),
      );
      actions.append(button);
    } else if (found.state === "locked" && leg.mine) {
      actions.append(el("p", {}, text("wait_refund", { time: localTime(found.timelock) })));
    } else if (found.state === "locked") {
      actions.append(el("p", {}, text(leg.redeemData ? "too_late_redeem" : "no_secret")));
    }
  }

  async function run(action) {
    try {
      return await action();
    } catch (error) {
      say("error", error?.code === 4001 ? text("rejected") : error?.message || String(error));
      return undefined;
    }
  }

  function render(kit) {
    const legs = legsOf(kit);
    $("kit-about").textContent = text(kit.role === "taker" ? "about_taker" : "about_maker", { swap: kit.swap, site: kit.site || "" });
    const list = $("kit-legs");
    list.replaceChildren();
    for (const leg of legs) {
      const title = text(leg.role === "taker" ? "leg_taker" : "leg_maker", { amount: leg.amount, symbol: leg.symbol, network: leg.network });
      const card = el(
        "article",
        { class: "recovery-leg", "data-role": leg.role },
        el("h3", {}, title),
        el(
          "dl",
          {},
          el("dt", {}, text("chain")), el("dd", {}, `${leg.network} (chain id ${leg.chain_id})`),
          el("dt", {}, text("contract")), el("dd", {}, el("code", {}, leg.contract)),
          el("dt", {}, text("lock_id")), el("dd", {}, el("code", {}, leg.lock_id)),
          el("dt", {}, text("from_to")), el("dd", {}, el("code", {}, leg.sender), " → ", el("code", {}, leg.recipient)),
          el("dt", {}, text("timelock")), el("dd", {}, localTime(leg.timelock)),
        ),
        el("p", { "data-lock-status": "" }, text("checking")),
        el("div", { "data-actions": "" }),
      );
      list.append(card);
      showLeg(leg, card);
    }
    $("kit-summary").hidden = false;
  }

  $("kit-file")?.addEventListener("change", async (event) => {
    const file = event.target.files?.[0];
    if (!file) return;
    await run(async () => {
      let kit;
      try {
        kit = JSON.parse(await file.text());
      } catch {
        throw new Error(text("not_a_kit"));
      }
      render(kit);
      $("recovery-status").hidden = true;
    });
  });
})();
