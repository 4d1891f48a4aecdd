// The review UI (README, "Review UI"): a plain browser module, no dependencies, no build step.
// Every piece of data reaches the page through textContent or createElement, never as parsed HTML: what the
// log holds (consumer IDs, reasons, services) comes from other agencies' systems and must stay text.

const TOKEN_KEY = "xbus-review-token";
const DECISIONS = ["allow", "deny", "invalid", "error"];
const ALERT_RULES = ["bulk_lookup", "denials", "off_hours"];
const EXCHANGE_FILTERS = ["consumer", "service", "subject", "purpose", "decision"];

/** Thrown after a 401: the token form is already showing its message. */
class Unauthorized extends Error {}

// ---------------------------------------------------------------- the token

/** @returns {string | null} */
function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Brings the token form back (and hides the views), with `message` saying why. */
function askForToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  byId("nav").hidden = true;
  byId("view").replaceChildren();
  byId("token-message").textContent = message;
  byId("token-view").hidden = false;
  setStatus("");
  byId("token-input").focus();
}

function onTokenSubmit(event) {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId("token-input"));
  const value = input.value.trim();
  input.value = "";
  if (!/^[A-Za-z0-9._~+/=-]{16,256}$/.test(value)) {
    askForToken("A token is 16 to 256 characters: letters, digits and . _ ~ + / = -");
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, value);
  byId("token-message").textContent = "";
  byId("token-view").hidden = true;
  byId("nav").hidden = false;
  route();
}

// ---------------------------------------------------------------- the API

/**
 * GET a JSON endpoint of this server with the reviewer's token. `params` with an empty value are left
 * out (the API refuses empty parameters).
 * @param {string} path already encoded
 * @param {Record<string, string | undefined>} [params]
 */
async function api(path, params = {}) {
  const t = token();
  if (!t) {
    askForToken("Enter a reviewer token to read the log.");
    throw new Unauthorized();
  }
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") query.set(k, v);
  const qs = query.toString();
  const res = await fetch(qs ? `${path}?${qs}` : path, {
    headers: { authorization: `Bearer ${t}`, accept: "application/json" },
    credentials: "omit",
    cache: "no-store",
  });
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (res.status === 401) {
    askForToken("The server refused this token (401). Enter a valid reviewer token.");
    throw new Unauthorized();
  }
  if (!res.ok) {
    const message = body?.error?.message;
    throw new Error(`${res.status}: ${typeof message === "string" ? message : res.statusText}`);
  }
  return body;
}

// ---------------------------------------------------------------- RFC 9162 hashing (core/merkle-hash.ts)

/** @param {Uint8Array} bytes */
async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** SHA-256(0x00 ‖ leaf). @param {Uint8Array} leaf */
async function leafHash(leaf) {
  const b = new Uint8Array(1 + leaf.length);
  b[0] = 0x00;
  b.set(leaf, 1);
  return sha256(b);
}

/** SHA-256(0x01 ‖ left ‖ right). @param {Uint8Array} left @param {Uint8Array} right */
async function nodeHash(left, right) {
  const b = new Uint8Array(1 + left.length + right.length);
  b[0] = 0x01;
  b.set(left, 1);
  b.set(right, 1 + left.length);
  return sha256(b);
}

/**
 * RFC 9162 §2.1.3.2, step for step as `rootFromInclusion` in core/merkle-hash.ts: the root that `path`
 * leads to from leaf `index` (hash `leaf`) of a tree of `size` leaves; undefined when the path cannot
 * belong to such a tree. Halving by division, not `>>`, so indexes past 2^31 stay right.
 * @param {number} index @param {number} size @param {Uint8Array} leaf @param {Uint8Array[]} path
 * @returns {Promise<Uint8Array | undefined>}
 */
async function rootFromInclusion(index, size, leaf, path) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index >= size || index < 0)
    return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}

/** @param {unknown} hex @returns {Uint8Array | undefined} 32 bytes, or undefined if not 64 lowercase hex digits */
function hash32(hex) {
  if (typeof hex !== "string" || !/^[0-9a-f]{64}$/.test(hex)) return undefined;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** @param {Uint8Array} bytes */
function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {string} b64 */
function fromBase64(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Checks an exchange's inclusion proof here, with nothing but the bytes: the leaf's own bytes (from
 * /v1/log/entries) must hash to the answer's leaf hash, and its audit path must lead to the answer's root.
 * @returns {Promise<{ok: boolean, detail: string}>}
 */
async function verifyInclusion(exchange, leafBytes) {
  const inc = exchange.inclusion ?? {};
  const root = hash32(inc.root_hash);
  const claimedLeaf = hash32(exchange.leaf_hash);
  const path = Array.isArray(inc.audit_path) ? inc.audit_path.map(hash32) : [undefined];
  if (!root || !claimedLeaf || path.some((p) => p === undefined))
    return { ok: false, detail: "the answer's hashes are not 64 lowercase hex digits" };
  const leaf = await leafHash(leafBytes);
  if (toHex(leaf) !== toHex(claimedLeaf))
    return { ok: false, detail: `the leaf's bytes hash to ${toHex(leaf)}, not to the leaf hash given` };
  const computed = await rootFromInclusion(exchange.index, inc.tree_size, leaf, path);
  if (!computed)
    return {
      ok: false,
      detail: `the audit path cannot belong to leaf ${exchange.index} of ${inc.tree_size}`,
    };
  if (toHex(computed) !== toHex(root))
    return { ok: false, detail: `the audit path leads to ${toHex(computed)}, not to the root given` };
  return {
    ok: true,
    detail: `leaf ${exchange.index} is in the tree of ${inc.tree_size} leaves with root ${inc.root_hash}`,
  };
}

// ---------------------------------------------------------------- DOM helpers

/** @param {string} id */
function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

/**
 * createElement with attributes and children; strings become text nodes, so data is never parsed as HTML.
 * @param {string} tag @param {Record<string, string | boolean>} [attrs] @param {...(Node | string | null | undefined)} children
 */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue;
    node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function setStatus(text, isError = false) {
  const s = byId("status");
  s.textContent = text;
  s.className = isError ? "error" : "";
}

/** The view's content: a heading (focused, for keyboard and screen-reader users) and the rest. */
function show(title, ...children) {
  const view = byId("view");
  const h = el("h2", { tabindex: "-1" }, title);
  view.replaceChildren(h, ...children);
  h.focus();
  document.title = `${title} · xbus review`;
}

/** @param {unknown} ms */
function timeText(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return String(ms ?? "");
  return new Date(ms).toISOString();
}

/** Any JSON value as text: arrays joined, objects as JSON. */
function valueText(v) {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v))
    return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function exchangeLink(id) {
  if (typeof id !== "string" || id === "") return "";
  return el("a", { href: `#/exchange/${encodeURIComponent(id)}` }, id);
}

/** @param {string[]} headings @param {Array<Array<Node | string>>} rows */
function table(caption, headings, rows) {
  return el(
    "table",
    {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))))),
  );
}

/** @param {Array<[string, Node | string]>} pairs */
function definitionList(pairs) {
  return el("dl", {}, ...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function input(label, name, attrs = {}) {
  const id = `f-${name}`;
  return el("label", { for: id }, label, el("input", { id, name, ...attrs }));
}

function select(label, name, options) {
  const id = `f-${name}`;
  return el(
    "label",
    { for: id },
    label,
    el("select", { id, name }, ...options.map(([value, text]) => el("option", { value }, text))),
  );
}

/**
 * A datetime-local value (no zone) as ISO 8601 with this browser's offset, as the API wants:
 * `2026-11-27T10:00` → `2026-11-27T10:00:00+06:00`.
 * @param {string} local
 */
function localToIso(local) {
  if (!local) return undefined;
  const d = new Date(local);
  if (Number.isNaN(d.getTime())) return undefined;
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(off / 60)}:${pad(off % 60)}`
  );
}

function zoneNote() {
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
function formValues(form) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [k, v] of new FormData(form)) if (typeof v === "string" && v.trim() !== "") out[k] = v.trim();
  return out;
}

/** Puts earlier values back in a form's fields. */
function fillForm(form, values) {
  for (const [k, v] of Object.entries(values)) {
    const field = form.elements.namedItem(k);
    if (field && "value" in field) field.value = v;
  }
}

/** Shows a failed call's message as text; a 401 has already brought back the token form. */
function failed(err, where) {
  if (err instanceof Unauthorized) return;
  const message = err instanceof Error ? err.message : String(err);
  where.replaceChildren(el("p", { class: "error", role: "alert" }, message));
  setStatus("");
}

/**
 * A list view's paging: `load(cursor)` fetches one page; "Newer" and "Older" step through pages by the
 * API's next_cursor, remembering the cursors already seen.
 */
function pager(where, load, render) {
  /** @type {(string | undefined)[]} */
  const cursors = [undefined];
  let at = 0;
  const go = async (i) => {
    setStatus("Loading…");
    try {
      const page = await load(cursors[i]);
      at = i;
      if (page.next_cursor !== null && page.next_cursor !== undefined)
        cursors[i + 1] = String(page.next_cursor);
      else cursors.length = i + 1;
      const newer = el("button", { type: "button", disabled: at === 0 }, "Newer page");
      const older = el("button", { type: "button", disabled: cursors[at + 1] === undefined }, "Older page");
      newer.addEventListener("click", () => void go(at - 1));
      older.addEventListener("click", () => void go(at + 1));
      const nav = el("div", { class: "pager", role: "group", "aria-label": "Pages" }, newer, older);
      where.replaceChildren(render(page, at + 1), nav);
      setStatus(`Page ${at + 1} loaded.`);
    } catch (err) {
      failed(err, where);
    }
  };
  return go(0);
}

// ---------------------------------------------------------------- views

async function treeHeadView() {
  const out = el("div");
  show("Latest signed tree head", out);
  setStatus("Loading…");
  try {
    const head = await api("/v1/log/tree-head");
    out.replaceChildren(
      definitionList([
        ["Tree size", String(head.tree_size)],
        ["Root hash", el("code", {}, valueText(head.root_hash))],
        ["Signed at", timeText(head.timestamp)],
        ["Log ID", valueText(head.log_id)],
        ["Signature (Ed25519, base64)", el("code", {}, valueText(head.signature))],
        ["Log public key (base64)", el("code", {}, valueText(head.public_key))],
      ]),
      el(
        "p",
        { class: "note" },
        "To check the whole log against this head offline, with a pinned key: xbus log export, then xbus log verify --file.",
      ),
    );
    setStatus("Tree head loaded.");
  } catch (err) {
    failed(err, out);
  }
}

/** @type {Record<string, string>} */
let exchangeFilters = {};

function exchangesView() {
  const form = el(
    "form",
    { class: "filters", "aria-label": "Exchange filters" },
    input("Consumer (SPIFFE ID)", "consumer", { type: "text", spellcheck: "false" }),
    input("Service", "service", { type: "text", spellcheck: "false" }),
    input("Subject (citizen ID)", "subject", { type: "text", inputmode: "numeric", spellcheck: "false" }),
    input("Purpose", "purpose", { type: "text", spellcheck: "false" }),
    select("Decision", "decision", [["", "any"], ...DECISIONS.map((d) => [d, d])]),
    input("From (inclusive)", "from", { type: "datetime-local", step: "1" }),
    input("To (exclusive)", "to", { type: "datetime-local", step: "1" }),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Search")),
  );
  const results = el("div", { id: "exchanges-results" });
  show("Exchanges", zoneNote(), form, results);
  fillForm(form, exchangeFilters);
  const search = () => {
    exchangeFilters = formValues(form);
    const params = {};
    for (const k of EXCHANGE_FILTERS) params[k] = exchangeFilters[k];
    params.from = localToIso(exchangeFilters.from ?? "");
    params.to = localToIso(exchangeFilters.to ?? "");
    return pager(
      results,
      (cursor) => api("/v1/exchanges", { ...params, cursor }),
      (page, n) =>
        table(
          `Exchanges, newest first (page ${n}, ${page.exchanges.length} rows)`,
          ["Index", "Time", "Exchange", "Consumer", "Service", "Purpose", "Decision", "Status"],
          page.exchanges.map((e) => {
            const r = e.record ?? {};
            return [
              String(e.index),
              timeText(r.time),
              exchangeLink(r.exchange_id),
              valueText(r.consumer),
              valueText(r.service),
              valueText(r.purpose),
              valueText(r.decision),
              valueText(r.status),
            ];
          }),
        ),
    );
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void search();
  });
  return search();
}

async function exchangeView(id) {
  const out = el("div");
  show(`Exchange ${id}`, out);
  setStatus("Loading…");
  try {
    const x = await api(`/v1/exchanges/${encodeURIComponent(id)}`);
    const record = x.record ?? {};
    const verdict = el("p", { id: "inclusion-verdict", role: "status" }, "Checking the inclusion proof…");
    const trace =
      typeof x.trace_url === "string" && /^https?:\/\//.test(x.trace_url)
        ? el("a", { href: x.trace_url, rel: "noreferrer noopener" }, x.trace_url)
        : "none";
    out.replaceChildren(
      el("h3", {}, "Record"),
      definitionList(
        Object.entries(record).map(([k, v]) => [k, k === "time" ? `${timeText(v)} (${v})` : valueText(v)]),
      ),
      el("h3", {}, "In the log"),
      definitionList([
        ["Leaf index", String(x.index)],
        ["Leaf hash", el("code", {}, valueText(x.leaf_hash))],
        ["Trace", trace],
      ]),
      el("h3", {}, "Inclusion proof"),
      verdict,
      definitionList([
        ["Tree size", valueText(x.inclusion?.tree_size)],
        ["Root hash", el("code", {}, valueText(x.inclusion?.root_hash))],
        [
          "Audit path",
          el(
            "ol",
            {},
            ...(x.inclusion?.audit_path ?? []).map((h) => el("li", {}, el("code", {}, valueText(h)))),
          ),
        ],
      ]),
      el(
        "p",
        { class: "note" },
        "Checked in this browser (SHA-256, RFC 9162): the leaf's bytes, fetched from /v1/log/entries, must hash " +
          "to the leaf hash, and the audit path must lead from it to the root above. Compare that root with a " +
          "signed tree head of the same size.",
      ),
    );
    const entries = await api("/v1/log/entries", { start: String(x.index), limit: "1" });
    const entry = entries.entries?.[0];
    const result =
      entry && entry.index === x.index && typeof entry.leaf === "string"
        ? await verifyInclusion(x, fromBase64(entry.leaf))
        : { ok: false, detail: "the log has no entry at this index" };
    verdict.replaceChildren(
      el(
        "strong",
        { class: result.ok ? "verified" : "not-verified" },
        result.ok ? "Inclusion proof verified" : "Inclusion proof does NOT verify",
      ),
      `: ${result.detail}`,
    );
    setStatus(
      result.ok
        ? "Exchange loaded; its inclusion proof verified."
        : "Exchange loaded; its proof does NOT verify.",
    );
  } catch (err) {
    failed(err, out);
  }
}

/** @type {Record<string, string>} */
let accessFilters = {};

function accessesView() {
  const form = el(
    "form",
    { class: "filters", "aria-label": "Citizen" },
    input("Citizen ID", "subject", {
      type: "text",
      inputmode: "numeric",
      required: true,
      spellcheck: "false",
    }),
    input("From (inclusive)", "from", { type: "datetime-local", step: "1" }),
    input("To (exclusive)", "to", { type: "datetime-local", step: "1" }),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Show accesses")),
  );
  const results = el("div", { id: "accesses-results" });
  show(
    "A citizen's accesses",
    el(
      "p",
      { class: "note" },
      "Who read which service about this citizen, when, for what purpose, with what outcome.",
    ),
    zoneNote(),
    form,
    results,
  );
  fillForm(form, accessFilters);
  const search = () => {
    accessFilters = formValues(form);
    const subject = accessFilters.subject ?? "";
    const params = { from: localToIso(accessFilters.from ?? ""), to: localToIso(accessFilters.to ?? "") };
    return pager(
      results,
      (cursor) => api(`/v1/subjects/${encodeURIComponent(subject)}/accesses`, { ...params, cursor }),
      (page, n) =>
        table(
          `Accesses, newest first (page ${n}, ${page.accesses.length} rows)`,
          ["Time", "Consumer", "Service", "Purpose", "Decision", "Status", "Fields released", "Exchange"],
          page.accesses.map((a) => [
            timeText(a.time),
            valueText(a.consumer),
            valueText(a.service),
            valueText(a.purpose),
            valueText(a.decision),
            valueText(a.status),
            valueText(a.fields_released),
            exchangeLink(a.exchange_id),
          ]),
        ),
    );
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void search();
  });
  if (accessFilters.subject) return search();
  return undefined;
}

/** @type {Record<string, string>} */
let alertFilters = {};

async function alertsView() {
  const form = el(
    "form",
    { class: "filters", "aria-label": "Alert window" },
    input("From (inclusive; default 24 h before 'to')", "from", { type: "datetime-local", step: "1" }),
    input("To (exclusive; default now)", "to", { type: "datetime-local", step: "1" }),
    select("Rule", "rule", [["", "all rules"], ...ALERT_RULES.map((r) => [r, r])]),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Show alerts")),
  );
  const results = el("div", { id: "alerts-results" });
  show("Alerts", zoneNote(), form, results);
  fillForm(form, alertFilters);
  const load = async () => {
    alertFilters = formValues(form);
    setStatus("Loading…");
    try {
      const a = await api("/v1/alerts", {
        from: localToIso(alertFilters.from ?? ""),
        to: localToIso(alertFilters.to ?? ""),
        rule: alertFilters.rule,
      });
      results.replaceChildren(
        el(
          "p",
          {},
          `Window ${timeText(a.from)} to ${timeText(a.to)}; ` +
            (a.complete
              ? "every exchange in it was read."
              : `only read up to ${timeText(a.scanned_to)}: ask again from there.`),
        ),
        table(
          `Alerts (${a.alerts.length})`,
          ["Rule", "Consumer", "First", "Last", "Count", "Summary", "Exchanges (first ones)"],
          a.alerts.map((x) => [
            valueText(x.rule),
            valueText(x.consumer),
            timeText(x.first_at),
            timeText(x.last_at),
            `${x.count}${x.truncated ? " (list truncated)" : ""}`,
            valueText(x.summary),
            el(
              "ul",
              {},
              ...(x.exchanges ?? []).slice(0, 5).map((e) => el("li", {}, exchangeLink(e.exchange_id))),
            ),
          ]),
        ),
        el("h3", {}, "Rules that ran"),
        definitionList(Object.entries(a.rules ?? {}).map(([k, v]) => [k, valueText(v)])),
      );
      setStatus("Alerts loaded.");
    } catch (err) {
      failed(err, results);
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void load();
  });
  await load();
}

// ---------------------------------------------------------------- routing

/** Shows the view the location's hash names (`#/exchanges`, `#/exchange/ID`, …). */
function route() {
  if (!token()) {
    askForToken("Enter a reviewer token to read the log.");
    return;
  }
  byId("token-view").hidden = true;
  byId("nav").hidden = false;
  const hash = location.hash.replace(/^#\/?/, "");
  const [name = "", arg = ""] = hash.split("/");
  let id = "";
  try {
    id = decodeURIComponent(arg);
  } catch {
    id = "";
  }
  if (name === "exchanges") void exchangesView();
  else if (name === "exchange" && id) void exchangeView(id);
  else if (name === "accesses") void accessesView();
  else if (name === "alerts") void alertsView();
  else void treeHeadView();
}

function start() {
  byId("token-form").addEventListener("submit", onTokenSubmit);
  byId("forget-token").addEventListener("click", () => askForToken("Token forgotten."));
  window.addEventListener("hashchange", route);
  route();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
