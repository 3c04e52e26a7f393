// The market page: filters open inline on wide screens (a collapsed <details> on phones), and
// the market price follows /ws/prices/ live (reconnecting after a drop, like the ticker).
import { showNumber } from "./format.js";
import { connectLive } from "./live.js";

const filters = document.querySelector("[data-filters]");
const wide = window.matchMedia("(min-width: 64rem)");

function place() {
  if (filters && wide.matches) filters.open = true;
}

place();
wide.addEventListener("change", place);

// Choosing an offer keeps whatever the page shows now (filters, and a chart range that htmx
// changed after the links were written): the offer is set on the current address.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-take]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
  const url = new URL(window.location.href);
  url.searchParams.set("take", link.dataset.take);
  url.searchParams.delete("part");
  url.hash = "take";
  event.preventDefault();
  window.location.assign(url);
});

// The live market price. The socket carries every direct pair and the configured cross pairs
// (ORACLE_CROSS_PAIRS); a market whose pair is neither keeps the price the page was served.
const oracle = document.querySelector("[data-oracle-pair][data-ws-path]");
const TRADEABLE = new Set(["ok", "degraded"]);

function showPrice(price) {
  if (price.pair !== oracle.dataset.oraclePair) return;
  const shown = oracle.querySelector("[data-market-price]");
  const status = oracle.querySelector("[data-market-status]");
  if (!shown || !status) return; // served without a tradeable price: the page says why
  const tradeable = TRADEABLE.has(price.status) && price.price !== null;
  if (tradeable) showNumber(shown, price.price);
  shown.classList.toggle("stale", !tradeable);
  status.textContent = price.status;
  status.className = `badge badge-${price.status === "ok" ? "ok" : tradeable ? "warn" : "danger"} status-${price.status}`;
  oracle.dataset.updatedAt = price.updated_at ?? "";
}

if (oracle) {
  connectLive(oracle.dataset.wsPath, {
    onStatus: (state) => {
      oracle.dataset.liveState = state;
    },
    onMessage(data) {
      if (data.type === "snapshot") data.prices.forEach(showPrice);
      if (data.type === "price") showPrice(data.price);
    },
  });
}
