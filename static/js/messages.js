// User-visible texts for the scripts, translated by Django: base.html renders them into
// <template id="ui-messages"> as <span data-key="...">, so scripts hold no English of their own.

const catalog = document.getElementById("ui-messages");

/** The text for `key` with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const node = catalog?.content.querySelector(`[data-key="${CSS.escape(key)}"]`);
  const text = node ? node.textContent.trim() : key;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}
