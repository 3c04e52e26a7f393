// Wires the wallet buttons of the page (base.html loads this on every page), and of content
// htmx swaps in later:
//   <button type="button" data-wallet-action="sign-in" data-next="/path">…</button>
//   <button type="button" data-wallet-action="link">…</button>
//   <button type="button" data-wallet-action="send" data-tx="{{ next_action_json }}">…</button>
// "send" takes a prepared transaction ({network, chain_id, to, data, value}) and, once it is
// confirmed, fires a bubbling `wallet:confirmed` event whose detail is {hash, receipt}.
// Progress and errors appear in the element whose id is in data-wallet-status, or in a
// status area added right after the button.
import { linkWallet, runWithStatus, sendPrepared, signIn } from "./wallet.js";

const ACTIONS = {
  "sign-in": (button, ui) => signIn({ ui, next: button.dataset.next }),
  link: (button, ui) => linkWallet({ ui }),
  async send(button, ui) {
    const result = await sendPrepared(JSON.parse(button.dataset.tx), { ui });
    button.dispatchEvent(new CustomEvent("wallet:confirmed", { bubbles: true, detail: result }));
  },
};

const UNWIRED = "[data-wallet-action]:not([data-wallet-wired])";

export function wireWalletButtons(root = document) {
  const buttons = [...(root.matches?.(UNWIRED) ? [root] : []), ...root.querySelectorAll(UNWIRED)];
  for (const button of buttons) {
    const action = ACTIONS[button.dataset.walletAction];
    if (!action) continue;
    button.dataset.walletWired = "";
    let status = document.getElementById(button.dataset.walletStatus ?? "");
    if (!status) {
      status = document.createElement("div");
      status.className = "wallet-status";
      status.hidden = true;
      button.after(status);
    }
    button.hidden = false; // buttons start hidden: without this script they could do nothing
    button.addEventListener("click", () => runWithStatus(button, status, (ui) => action(button, ui)));
  }
}

wireWalletButtons();
document.addEventListener("htmx:load", (event) => wireWalletButtons(event.target));
