// Numbers for people, as the server writes them (oracle/numbers.py): 2 places from 1,000,
// 4 from 1, else 4 significant digits; grouped and in the page's digits (Intl). Display
// only: the exact text stays in the element's title and value.
const lang = () => document.documentElement.lang || "en";

export function displayPlaces(value) {
  const size = Math.abs(value);
  if (size === 0) return 0;
  if (size >= 1000) return 2;
  if (size >= 1) return 4;
  return Math.min(20, 3 - Math.floor(Math.log10(size)));
}

export function humanNumber(text) {
  const value = Number(text);
  if (text === null || text === undefined || text === "" || !Number.isFinite(value)) return "—";
  const places = displayPlaces(value);
  return new Intl.NumberFormat(lang(), { maximumFractionDigits: places }).format(value);
}

// Writes `text` into `element` as <data value title>human</data> (or a dash).
export function showNumber(element, text) {
  if (text === null || text === undefined) {
    element.textContent = "—";
    return;
  }
  const data = document.createElement("data");
  data.className = "num";
  data.value = text;
  data.title = text;
  data.textContent = humanNumber(text);
  element.replaceChildren(data);
}
