// The order page: the countdown to the automatic release, and a reload once a transaction
// sent from this page is confirmed (the next step comes from the server; the state follows
// when the watcher confirms the event, which the reload after a short wait usually shows).
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
