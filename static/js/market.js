// The market page: filters open inline on wide screens (a collapsed <details> on phones).
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
