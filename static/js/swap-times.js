// Times people can read: every <time data-local> (rendered in UTC by the server) is shown in
// the reader's local time and language, and each <time data-countdown> also ticks the time
// left (or since it passed) every second. Content htmx swaps in is handled too.
const lang = document.documentElement.lang || undefined;
const dateFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
const numberFormat = new Intl.NumberFormat(lang, { minimumIntegerDigits: 2 });

function text(key, vars) {
  const node = document.getElementById("time-texts")?.content.querySelector(`[data-key="${key}"]`);
  const template = node ? node.textContent.trim() : key === "left" ? "{time} left" : "passed {time} ago";
  return template.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}

/** "1:02:05" or "12:30": hours, minutes and seconds in the page's digits. */
export function clock(totalSeconds) {
  const s = Math.floor(Math.abs(totalSeconds));
  const h = Math.floor(s / 3600);
  const parts = [Math.floor((s % 3600) / 60), s % 60].map((n) => numberFormat.format(n));
  return h ? `${new Intl.NumberFormat(lang).format(h)}:${parts.join(":")}` : parts.join(":");
}

function render(node) {
  const when = new Date(node.getAttribute("datetime"));
  if (Number.isNaN(when.getTime())) return;
  if (!node.dataset.utc) node.dataset.utc = node.textContent;
  node.title = node.dataset.utc;
  let shown = dateFormat.format(when);
  if (node.hasAttribute("data-countdown")) {
    const seconds = (when.getTime() - Date.now()) / 1000;
    node.dataset.due = seconds <= 0 ? "passed" : seconds < 300 ? "soon" : "later";
    shown += ` · ${seconds > 0 ? text("left", { time: clock(seconds) }) : text("passed", { time: clock(seconds) })}`;
  }
  node.textContent = shown;
}

export function renderTimes(root = document) {
  root.querySelectorAll("time[data-local]").forEach(render);
}

renderTimes();
setInterval(() => document.querySelectorAll("time[data-countdown]").forEach(render), 1000);
document.body.addEventListener("htmx:afterSwap", (event) => renderTimes(event.target));
