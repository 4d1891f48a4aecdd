// @ts-check
// The page's DOM helpers. Every piece of data reaches the page through textContent or createElement, never
// as parsed HTML: what the log holds (consumer IDs, reasons, services) comes from other agencies' systems
// and must stay text.

/** @param {string} id */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

/** What `el` takes as children: strings become text nodes; null and undefined are left out. */
/** @typedef {Node | string | null | undefined} Child */

/**
 * createElement with attributes and children; strings become text nodes, so data is never parsed as HTML.
 * An attribute `false` is left out, `true` is present and empty.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag @param {Record<string, string | boolean>} [attrs] @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue;
    node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** @param {string} text @param {boolean} [isError] */
export function setStatus(text, isError = false) {
  const s = byId("status");
  s.textContent = text;
  s.className = isError ? "error" : "";
}

/** "Root matches" → "root matches", but "NOT consistent" stays as it is. @param {string} text */
export function lowerFirst(text) {
  return /^[A-Z][a-z]/.test(text) ? text.charAt(0).toLowerCase() + text.slice(1) : text;
}

/**
 * The view's content: a heading (focused, for keyboard and screen-reader users) and the rest.
 * @param {string} title @param {...(Node | string)} children
 */
export function show(title, ...children) {
  const view = byId("view");
  const h = el("h2", { tabindex: "-1" }, title);
  view.replaceChildren(h, ...children);
  h.focus();
  document.title = `${title} · xbus review`;
}

/** @param {unknown} ms */
export function timeText(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return String(ms ?? "");
  return new Date(ms).toISOString();
}

/** Any JSON value as text: arrays joined, objects as JSON. @param {unknown} v */
export function valueText(v) {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v))
    return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** A link to an exchange's own view. @param {unknown} id */
export function exchangeLink(id) {
  if (typeof id !== "string" || id === "") return "";
  return el("a", { href: `#/exchange/${encodeURIComponent(id)}` }, id);
}

/** @param {string} caption @param {string[]} headings @param {Array<Array<Node | string>>} rows */
export function table(caption, headings, rows) {
  return el(
    "table",
    {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))))),
  );
}

/** @param {Array<[string, Node | string]>} pairs */
export function definitionList(pairs) {
  return el("dl", {}, ...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

/** A labelled form field. @param {string} label @param {string} name @param {Record<string, string | boolean>} [attrs] */
export function input(label, name, attrs = {}) {
  const id = `f-${name}`;
  return el("label", { for: id }, label, el("input", { id, name, ...attrs }));
}

/** A labelled choice. @param {string} label @param {string} name @param {Array<[string, string]>} options value, text */
export function select(label, name, options) {
  const id = `f-${name}`;
  return el(
    "label",
    { for: id },
    label,
    el("select", { id, name }, ...options.map(([value, text]) => el("option", { value }, text))),
  );
}

/**
 * A "verified" or "not verified" verdict's words: the headline, marked verified or not (neither when `ok`
 * is undefined), then what it rests on.
 * @param {boolean | undefined} ok @param {string} headline @param {string} detail
 */
export function verdictParts(ok, headline, detail) {
  const mark = ok === undefined ? false : ok ? "verified" : "not-verified";
  return [el("strong", { class: mark }, headline), `: ${detail}`];
}

/**
 * A datetime-local value (no zone) as ISO 8601 with this browser's offset, as the API wants:
 * `2026-11-27T10:00` → `2026-11-27T10:00:00+06:00`.
 * @param {string} local
 */
export function localToIso(local) {
  if (!local) return undefined;
  const d = new Date(local);
  if (Number.isNaN(d.getTime())) return undefined;
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  /** @param {number} n */
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(off / 60)}:${pad(off % 60)}`
  );
}

/**
 * Milliseconds since the epoch as a datetime-local value in this browser's zone, seconds included, the
 * inverse of localToIso: `2026-11-27T10:00:00`.
 * @param {number} ms
 */
export function msToLocal(ms) {
  const d = new Date(ms);
  /** @param {number} n */
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/**
 * The filters a link gives a view (`#/exchanges/agency%3Dmoe%26decision%3Ddeny`, the part after the
 * view's name, already decoded): only the names in `allowed`, each once, as a form fills them.
 * @param {string} query @param {readonly string[]} allowed
 */
export function linkFilters(query, allowed) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [k, v] of new URLSearchParams(query)) if (allowed.includes(k) && !(k in out)) out[k] = v;
  return out;
}

/** The note under a form with times: in which zone what is typed is read. */
export function zoneNote() {
  const off = -new Date().getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const hhmm = `${String(Math.floor(Math.abs(off) / 60)).padStart(2, "0")}:${String(Math.abs(off) % 60).padStart(2, "0")}`;
  return el(
    "p",
    { class: "note" },
    `Times you enter are read in this browser's time zone (UTC${sign}${hhmm}) and sent with that offset; ` +
      "'from' is inclusive, 'to' exclusive. Times shown are UTC.",
  );
}

/** The values of a form's named fields, empty ones left out. @param {HTMLFormElement} form */
export function formValues(form) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [k, v] of new FormData(form)) if (typeof v === "string" && v.trim() !== "") out[k] = v.trim();
  return out;
}

/** Puts earlier values back in a form's fields. @param {HTMLFormElement} form @param {Record<string, string>} values */
export function fillForm(form, values) {
  for (const [k, v] of Object.entries(values)) {
    const field = form.elements.namedItem(k);
    if (field && "value" in field) field.value = v;
  }
}
