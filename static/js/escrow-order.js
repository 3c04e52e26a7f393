// The order page: the countdown to the automatic release, and a reload once a transaction
// sent from this page is confirmed (the next step comes from the server; the state follows
// when the watcher confirms the event, which the reload after a short wait usually shows).
// Live over /ws/orders/{id}/: the page reloads its server view when the state or a
// condition changes, or a message arrives while nothing is being typed.
import { connectLive } from "./live.js";

const releaseAt = document.getElementById("release-at");
const countdown = document.getElementById("release-countdown");

function showCountdown() {
  if (!releaseAt || !countdown) return;
  const at = Number(releaseAt.dataset.releaseAt) * 1000;
  releaseAt.textContent = new Date(at).toLocaleString();
  const left = Math.max(0, Math.floor((at - Date.now()) / 1000));
  const d = Math.floor(left / 86400);
  const h = Math.floor((left % 86400) / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  countdown.textContent = left ? `(${d ? `${d} d ` : ""}${h} h ${m} min ${s} s)` : "";
}

showCountdown();
setInterval(showCountdown, 1000);
document.addEventListener("wallet:confirmed", () => setTimeout(() => window.location.reload(), 1500));

const stateEl = document.getElementById("order-state");
let shownView = null;

function typing() {
  return [...document.querySelectorAll("textarea, input[type=text], input[type=file]")].some(
    (el) => (el.type === "file" ? el.files.length : el.value.trim()),
  );
}

if (stateEl?.dataset.orderId) {
  connectLive(`/ws/orders/${stateEl.dataset.orderId}/`, {
    onMessage(update) {
      if (update.type === "order") {
        const view = JSON.stringify([update.order.state, update.order.conditions]);
        const first = shownView === null;
        const changed = first ? update.order.state !== stateEl.dataset.state : view !== shownView;
        shownView = view;
        if (changed && !typing()) window.location.reload();
      } else if (update.type === "message" && !typing()) {
        window.location.reload();
      }
    },
  });
}
