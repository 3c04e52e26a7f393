// Live prices: follows /ws/prices/ (reconnecting after a drop). The chart is drawn on the
// server (templates/oracle/_chart.html) and changes pair or range through htmx.
import { showNumber } from "./format.js";
import { connectLive } from "./live.js";
import { t } from "./messages.js";

const ticker = document.querySelector("[data-ticker]");

function rowFor(pair) {
  const rows = ticker.querySelector("[data-ticker-rows]");
  let row = rows.querySelector(`tr[data-pair="${CSS.escape(pair)}"]`);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.pair = pair;
    const head = document.createElement("th");
    head.scope = "row";
    head.textContent = pair;
    const price = document.createElement("td");
    price.dataset.price = "";
    price.className = "n";
    const status = document.createElement("td");
    const badge = document.createElement("span");
    badge.dataset.status = "";
    status.append(badge);
    const sources = document.createElement("td");
    sources.dataset.sources = "";
    row.append(head, price, status, sources);
    rows.append(row);
  }
  return row;
}

function show(price) {
  const row = rowFor(price.pair);
  showNumber(row.querySelector("[data-price]"), price.price);
  const status = row.querySelector("[data-status]");
  status.textContent = price.status;
  status.className = `status status-${price.status}`;
  row.querySelector("[data-sources]").textContent = String(price.sources.length);
}

const STATE_TEXT = {
  connecting: () => t("live_connecting"),
  live: () => t("live_on"),
  reconnecting: ({ delay }) => t("live_reconnecting", { seconds: Math.max(1, Math.round(delay / 1000)) }),
  offline: () => t("live_offline"),
  refused: () => t("live_refused"),
};

function setState(state, detail) {
  // data-live-state is for styling and tests; the text is for people (a polite live region).
  ticker.dataset.liveState = state;
  ticker.querySelector("[data-ticker-state]").textContent = STATE_TEXT[state](detail);
}

function connect() {
  connectLive(ticker.dataset.wsPath, {
    onStatus: setState,
    onMessage(data) {
      // Every (re)connection starts with a snapshot, so nothing missed while away stays stale.
      if (data.type === "snapshot") data.prices.forEach(show);
      if (data.type === "price") show(data.price);
    },
  });
}

if (ticker) connect();
