// The review UI (README, "Review UI"): a plain browser module, no dependencies, no build step.
// Every piece of data reaches the page through textContent or createElement, never as parsed HTML: what the
// log holds (consumer IDs, reasons, services) comes from other agencies' systems and must stay text.

const TOKEN_KEY = "xbus-review-token";
/** The log's public key the reviewer pinned (base64 of the raw 32-byte Ed25519 key), this tab only. */
const PINNED_KEY = "xbus-review-log-key";
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
 * `computed` is the root the audit path leads to from the leaf's own hash, when it leads to one.
 * @returns {Promise<{ok: boolean, detail: string, computed?: Uint8Array}>}
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
    return {
      ok: false,
      computed,
      detail: `the audit path leads to ${toHex(computed)}, not to the root given`,
    };
  return {
    ok: true,
    computed,
    detail: `leaf ${exchange.index} is in the tree of ${inc.tree_size} leaves with root ${inc.root_hash}`,
  };
}

// ---------------------------------------------------------------- the tree head's signature (cli/log/verify.ts)

/** @returns {string | null} */
function pinnedKey() {
  return sessionStorage.getItem(PINNED_KEY);
}

/**
 * The raw 32 bytes of an Ed25519 public key given as base64 (padded, as the API serves it and as
 * `xbus log verify --public-key` takes it); undefined for anything else.
 * @param {unknown} b64 @returns {Uint8Array | undefined}
 */
function rawKey(b64) {
  if (typeof b64 !== "string" || !/^[A-Za-z0-9+/]{43}=$/.test(b64)) return undefined;
  const raw = fromBase64(b64);
  return raw.length === 32 ? raw : undefined;
}

/** SHA-256 of a raw key, lowercase hex: what to compare with the fingerprint the operator publishes. */
async function fingerprint(raw) {
  return toHex(await sha256(raw));
}

/**
 * The bytes a tree head's signature covers, exactly as `treeHeadSignedBytes` in core/merkle-hash.ts;
 * undefined when a field is not of the shape the indexer signs.
 */
function treeHeadSignedBytes(head) {
  if (
    typeof head?.log_id !== "string" ||
    !Number.isSafeInteger(head.tree_size) ||
    head.tree_size < 0 ||
    !hash32(head.root_hash) ||
    !Number.isSafeInteger(head.timestamp)
  )
    return undefined;
  return new TextEncoder().encode(
    `xbus-tree-head/v1\n${head.log_id}\n${head.tree_size}\n${head.root_hash}\n${head.timestamp}\n`,
  );
}

/**
 * Checks a tree head's Ed25519 signature here, with WebCrypto: against the pinned key when the reviewer
 * pinned one, else against the key the same server serves (which shows only that the server holds the
 * key it names). `state` is "ok", "bad" (the signature does not verify against that key) or "unchecked"
 * (no usable key, or a browser without Ed25519).
 * @returns {Promise<{state: "ok" | "bad" | "unchecked", pinned: boolean, against: string, detail: string}>}
 */
async function checkTreeHead(head) {
  const pinned = pinnedKey();
  const against = pinned ? "the pinned key" : "the key this server serves";
  const result = (state, detail) => ({ state, pinned: Boolean(pinned), against, detail });
  const key = rawKey(pinned ?? head?.public_key);
  if (!key)
    return result(
      "unchecked",
      pinned ? "the pinned key is not 32 bytes in base64" : "the server serves no 32-byte Ed25519 key",
    );
  const bytes = treeHeadSignedBytes(head);
  if (!bytes) return result("bad", "the tree head's fields are not of the shape the log signs");
  const signature =
    typeof head.signature === "string" && /^[A-Za-z0-9+/]{86}==$/.test(head.signature)
      ? fromBase64(head.signature)
      : undefined;
  if (!signature) return result("bad", "the signature is not 64 bytes in base64");
  let ok;
  try {
    const k = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
    ok = await crypto.subtle.verify({ name: "Ed25519" }, k, signature, bytes);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return result("unchecked", `this browser could not check an Ed25519 signature (${message})`);
  }
  return ok
    ? result(
        "ok",
        `over log ${head.log_id}, size ${head.tree_size}, root ${head.root_hash}, time ${head.timestamp}`,
      )
    : result("bad", "the signature does not verify over this head's log ID, size, root and time");
}

/** The verdict's headline for a checked tree head. */
function treeHeadHeadline(check) {
  if (check.state === "ok") return `Tree head signed by ${check.against}`;
  if (check.state === "bad") return `Tree head NOT signed by ${check.against}`;
  return "Tree head signature could not be checked";
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
  show("Latest signed tree head", out, pinForm());
  setStatus("Loading…");
  try {
    const head = await api("/v1/log/tree-head");
    const served = rawKey(head.public_key);
    const check = await checkTreeHead(head);
    const pinned = pinnedKey();
    const servedIsPinned = pinned !== null && pinned === head.public_key;
    out.replaceChildren(
      definitionList([
        ["Tree size", String(head.tree_size)],
        ["Root hash", el("code", {}, valueText(head.root_hash))],
        ["Signed at", timeText(head.timestamp)],
        ["Log ID", valueText(head.log_id)],
        ["Signature (Ed25519, base64)", el("code", {}, valueText(head.signature))],
        ["Log public key this server serves (base64)", el("code", {}, valueText(head.public_key))],
        [
          "Served key's SHA-256 fingerprint",
          served
            ? el("code", { id: "served-key-fingerprint" }, await fingerprint(served))
            : "not a 32-byte key",
        ],
      ]),
      el(
        "p",
        { id: "signature-verdict", role: "status" },
        el("strong", { class: check.state === "ok" ? "verified" : "not-verified" }, treeHeadHeadline(check)),
        `: ${check.detail}.`,
        check.pinned
          ? servedIsPinned
            ? " The server serves the pinned key."
            : " The server serves another key than the pinned one."
          : check.state === "ok"
            ? " This only shows the head was signed by the key this server serves: a server that altered " +
              "the log could serve a key of its own. Pin the log's public key, got from elsewhere, below."
            : "",
      ),
      el(
        "p",
        { class: "note" },
        "Checked in this browser (WebCrypto Ed25519) over the bytes the log signs: " +
          "xbus-tree-head/v1, log ID, tree size, root hash and time, one per line. To check the whole log " +
          "against this head offline, with a pinned key: xbus log export, then xbus log verify --file --public-key.",
      ),
    );
    setStatus(`Tree head loaded; ${treeHeadHeadline(check).replace(/^Tree head /, "")}.`);
  } catch (err) {
    failed(err, out);
  }
}

/** The form that pins the log's public key in this tab (and shows the pinned key's fingerprint). */
function pinForm() {
  const message = el("p", { id: "pin-message", role: "alert" });
  const field = el("input", {
    id: "pin-input",
    name: "public_key",
    type: "text",
    spellcheck: "false",
    autocomplete: "off",
    maxlength: "64",
  });
  const form = el(
    "form",
    { id: "pin-form", "aria-label": "Pin the log's public key" },
    el("label", { for: "pin-input" }, "Log public key (base64 of the raw 32-byte Ed25519 key)"),
    field,
    el("button", { type: "submit" }, "Pin this key"),
  );
  const pinned = pinnedKey();
  const current = el("div", { id: "pinned-key" }, pinned ? "" : "No key pinned.");
  const section = el(
    "section",
    { "aria-labelledby": "pin-heading" },
    el("h3", { id: "pin-heading" }, "Pinned log key"),
    el(
      "p",
      { class: "note" },
      "Get the log's public key from somewhere other than this server (its operator, a published " +
        "fingerprint), as xbus log verify --public-key takes it. It is kept in this tab's session storage " +
        "only; tree heads are then checked against it.",
    ),
    current,
    message,
    form,
  );
  const raw = rawKey(pinned);
  if (pinned) {
    const unpin = el("button", { type: "button" }, "Unpin the key");
    unpin.addEventListener("click", () => {
      sessionStorage.removeItem(PINNED_KEY);
      void treeHeadView();
    });
    const dl = definitionList([
      ["Pinned key (base64)", el("code", {}, pinned)],
      [
        "Pinned key's SHA-256 fingerprint",
        raw ? el("code", { id: "pinned-key-fingerprint" }) : "not a 32-byte key",
      ],
    ]);
    current.replaceChildren(dl, unpin);
    if (raw)
      void fingerprint(raw).then((f) => {
        const code = document.getElementById("pinned-key-fingerprint");
        if (code) code.textContent = f;
      });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = /** @type {HTMLInputElement} */ (field).value.trim();
    if (!rawKey(value)) {
      message.textContent =
        "Not pinned: a log public key is the base64 of 32 bytes (44 characters ending in =).";
      return;
    }
    sessionStorage.setItem(PINNED_KEY, value);
    void treeHeadView();
  });
  return section;
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
    const signedVerdict = el(
      "p",
      { id: "signed-head-verdict", role: "status" },
      "Comparing with the signed tree head…",
    );
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
          "to the leaf hash, and the audit path must lead from it to the root above.",
      ),
      el("h3", {}, "Against the signed tree head"),
      signedVerdict,
      el(
        "p",
        { class: "note" },
        "The root the audit path leads to is compared with the root of the signed tree head of the same size, " +
          "whose Ed25519 signature is checked here against the pinned key (or, with none pinned, the key this " +
          "server serves). The API serves only the latest tree head, so a proof for another size is not compared.",
      ),
    );
    const entries = await api("/v1/log/entries", { start: String(x.index), limit: "1" });
    const entry = entries.entries?.[0];
    const result =
      entry && entry.index === x.index && typeof entry.leaf === "string"
        ? await verifyInclusion(x, fromBase64(entry.leaf))
        : { ok: false, detail: "the log has no entry at this index" };
    // Both checks first, then both verdicts: the page never shows one while still fetching for the other.
    const signed = await compareWithSignedHead(x, result.computed);
    verdict.replaceChildren(
      el(
        "strong",
        { class: result.ok ? "verified" : "not-verified" },
        result.ok ? "Inclusion proof verified" : "Inclusion proof does NOT verify",
      ),
      `: ${result.detail}`,
    );
    signedVerdict.replaceChildren(
      el("strong", { class: signed.ok ? "verified" : "not-verified" }, signed.headline),
      `: ${signed.detail}`,
    );
    setStatus(
      `${
        result.ok
          ? "Exchange loaded; its inclusion proof verified"
          : "Exchange loaded; its proof does NOT verify"
      }; ${signed.headline.charAt(0).toLowerCase()}${signed.headline.slice(1)}.`,
    );
  } catch (err) {
    failed(err, out);
  }
}

/**
 * Whether the root an exchange's proof leads to (`computed`) is the root of a signed tree head of the
 * proof's size. The API serves only the latest head: a proof for another size is not compared.
 * @returns {Promise<{ok: boolean, headline: string, detail: string}>}
 */
async function compareWithSignedHead(exchange, computed) {
  const size = exchange.inclusion?.tree_size;
  const notCompared = (detail) => ({ ok: false, headline: "Not compared with a signed head", detail });
  if (!computed) return notCompared("the audit path leads to no root.");
  let head;
  try {
    head = await api("/v1/log/tree-head");
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    return notCompared(`no tree head to compare with (${err instanceof Error ? err.message : String(err)}).`);
  }
  if (head.tree_size !== size)
    return notCompared(
      `the proof is for a tree of ${valueText(size)} leaves, the latest signed tree head is of ` +
        `${valueText(head.tree_size)}, and the API serves only the latest head.`,
    );
  const check = await checkTreeHead(head);
  if (check.state !== "ok")
    return notCompared(
      check.state === "bad"
        ? `the tree head of size ${size} is NOT signed by ${check.against} (${check.detail}).`
        : `the signature of the tree head of size ${size} could not be checked (${check.detail}).`,
    );
  const by = check.pinned
    ? "signed by the pinned key"
    : "signed by the key this server serves (which only shows the server holds that key; pin the log's key on the tree head view)";
  if (toHex(computed) !== head.root_hash)
    return {
      ok: false,
      headline: "Root is NOT that of the signed tree head",
      detail: `the proof leads to ${toHex(computed)}; the tree head of size ${size}, ${by}, has root ${valueText(head.root_hash)}.`,
    };
  return {
    ok: true,
    headline: "Root matches the signed tree head",
    detail: `the proof leads to ${head.root_hash}, the root of the tree head of size ${size}, ${by}.`,
  };
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
