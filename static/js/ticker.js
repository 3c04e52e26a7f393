// Live prices: follows /ws/prices/ (reconnecting after a drop) and draws a small chart.
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
  row.querySelector("[data-price]").textContent = price.price ?? "—";
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

async function drawChart(pair) {
  const svg = ticker.querySelector("[data-chart]");
  const empty = ticker.querySelector("[data-chart-empty]");
  svg.replaceChildren();
  if (!pair) return;
  const response = await fetch(`/api/v1/prices/${encodeURIComponent(pair)}/history/?interval=1m&page_size=60`);
  const candles = response.ok ? (await response.json()).results : [];
  empty.hidden = candles.length > 1;
  if (candles.length < 2) return;
  // Plot coordinates only: prices stay strings everywhere else.
  const closes = candles.map((c) => Number(c.close));
  const low = Math.min(...closes);
  const span = Math.max(...closes) - low || 1;
  const points = closes.map((v, i) => `${(i / (closes.length - 1)) * 600},${150 - ((v - low) / span) * 140}`);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("class", "chart-line");
  svg.append(line);
}

if (ticker) {
  connect();
  const select = ticker.querySelector("[data-chart-pair]");
  select?.addEventListener("change", () => drawChart(select.value));
  drawChart(select?.value);
}
