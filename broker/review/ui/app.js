// The review UI (README, "Review UI"): a plain browser module, no dependencies, no build step.
// Every piece of data reaches the page through textContent or createElement, never as parsed HTML: what the
// log holds (consumer IDs, reasons, services) comes from other agencies' systems and must stay text.
// Every check of the log (hashes, proofs, signatures) runs here, on WebCrypto, independently of the server's code.

import {
  hash32,
  leafHash,
  rootFromInclusion,
  rootsFromConsistency,
  sameBytes,
  sha256,
  toHex,
} from "./merkle.js";

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
    const why = typeof body?.error?.message === "string" ? `: ${body.error.message}` : "";
    askForToken(`The server refused this token (401${why}). Enter a valid reviewer token.`);
    throw new Unauthorized();
  }
  if (!res.ok) {
    const message = body?.error?.message;
    throw new Error(`${res.status}: ${typeof message === "string" ? message : res.statusText}`);
  }
  return body;
}

// ---------------------------------------------------------------- the exchange's proof (merkle.js)

/** @param {string} b64 */
function fromBase64(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Checks the inclusion proof an exchange's answer carries, with nothing but the bytes: `leaf`, the hash of
 * the leaf's own bytes (from /v1/log/entries, hashed here), must be the answer's leaf hash, and its audit
 * path must lead to the answer's root. That root is the server's word; `inclusionAgainstSignedHead` checks
 * the leaf against a root the log signed.
 * @param {Uint8Array} leaf @returns {Promise<{ok: boolean, detail: string}>}
 */
async function verifyInclusion(exchange, leaf) {
  const inc = exchange.inclusion ?? {};
  const root = hash32(inc.root_hash);
  const claimedLeaf = hash32(exchange.leaf_hash);
  const path = hashList(inc.audit_path);
  if (!root || !claimedLeaf || !path)
    return { ok: false, detail: "the answer's hashes are not 64 lowercase hex digits" };
  if (!sameBytes(leaf, claimedLeaf))
    return { ok: false, detail: `the leaf's bytes hash to ${toHex(leaf)}, not to the leaf hash given` };
  const computed = await rootFromInclusion(exchange.index, inc.tree_size, leaf, path);
  if (!computed)
    return {
      ok: false,
      detail: `the audit path cannot belong to leaf ${exchange.index} of ${inc.tree_size}`,
    };
  if (!sameBytes(computed, root))
    return { ok: false, detail: `the audit path leads to ${toHex(computed)}, not to the root given` };
  return {
    ok: true,
    detail: `leaf ${exchange.index} is in the tree of ${inc.tree_size} leaves with root ${inc.root_hash}`,
  };
}

/** A list of 64-hex-digit hashes as bytes; undefined when it is not an array or one of them is not one. */
function hashList(list) {
  if (!Array.isArray(list)) return undefined;
  const hashes = list.map(hash32);
  return hashes.every((h) => h !== undefined) ? hashes : undefined;
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
 * (no usable key, or a browser without Ed25519). `key` is the base64 key it was checked against.
 * @returns {Promise<{state: "ok" | "bad" | "unchecked", pinned: boolean, against: string, key: unknown, detail: string}>}
 */
async function checkTreeHead(head) {
  const pinned = pinnedKey();
  const against = pinned ? "the pinned key" : "the key this server serves";
  const b64 = pinned ?? head?.public_key;
  const result = (state, detail) => ({ state, pinned: Boolean(pinned), against, key: b64, detail });
  const key = rawKey(b64);
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

// ---------------------------------------------------------------- successive tree heads (RFC 9162 §2.1.4)

/**
 * The last signed tree head this tab verified, per log ID and key (session storage, as the pinned key):
 * each newer head must extend it, as a Certificate Transparency monitor checks each new head against the
 * last. Per key, because a head signed by another key proves nothing about this one's log.
 */
const SEEN_HEAD_PREFIX = "xbus-review-seen-head:";

/** @param {string} logId @param {string} key base64 */
function seenHeadSlot(logId, key) {
  return SEEN_HEAD_PREFIX + JSON.stringify([logId, key]);
}

/**
 * The head remembered in `slot`, or undefined when there is none (or what is there is not of its shape).
 * @returns {{tree_size: number, root_hash: string, timestamp: number} | undefined}
 */
function seenHead(slot) {
  let h;
  try {
    h = JSON.parse(sessionStorage.getItem(slot) ?? "null");
  } catch {
    return undefined;
  }
  return Number.isSafeInteger(h?.tree_size) && h.tree_size >= 0 && hash32(h.root_hash) ? h : undefined;
}

function rememberHead(slot, head) {
  sessionStorage.setItem(
    slot,
    JSON.stringify({ tree_size: head.tree_size, root_hash: head.root_hash, timestamp: head.timestamp }),
  );
}

/** The other keys under which this tab remembers a head of `logId`: a log whose key changed. */
function otherKeysSeen(logId, key) {
  const keys = [];
  for (let i = 0; i < sessionStorage.length; i++) {
    const name = sessionStorage.key(i) ?? "";
    if (!name.startsWith(SEEN_HEAD_PREFIX)) continue;
    try {
      const [l, k] = JSON.parse(name.slice(SEEN_HEAD_PREFIX.length));
      if (l === logId && k !== key && typeof k === "string") keys.push(k);
    } catch {
      // not one of ours
    }
  }
  return keys;
}

/** One check at a time, so two views loading heads at once compare each with the head the other left. */
let consistencyQueue = Promise.resolve();

/**
 * Whether the tree head `head`, whose signature `check` is, extends the last head this tab verified for the
 * same log and key, proved in this browser by the log's consistency proof (RFC 9162 §2.1.4.2); it becomes
 * the remembered head only when it does. A smaller head, one of the same size with another root, or a proof
 * that fails is "inconsistent": the log was rewritten or forked, and the head seen before stays remembered.
 * @returns {Promise<{state: "first" | "rekeyed" | "consistent" | "inconsistent" | "unchecked", headline: string, detail: string}>}
 */
function checkConsistency(head, check) {
  const run = consistencyQueue.then(() => consistencyWithSeen(head, check));
  consistencyQueue = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

async function consistencyWithSeen(head, check) {
  if (check.state !== "ok")
    return {
      state: "unchecked",
      headline: "Consistency not checked",
      detail:
        "this head's signature did not verify, so it is neither compared with the head seen before nor remembered.",
    };
  const slot = seenHeadSlot(head.log_id, check.key);
  const seen = seenHead(slot);
  const m = seen?.tree_size;
  const n = head.tree_size;
  if (!seen) {
    rememberHead(slot, head);
    const others = otherKeysSeen(head.log_id, check.key);
    const remembered =
      `size ${n}, root ${head.root_hash} is remembered in this tab; each later head of log ` +
      `${head.log_id} signed by this key is checked to extend it.`;
    if (others.length === 0)
      return {
        state: "first",
        headline: "First head seen in this tab for this log and key",
        detail: remembered,
      };
    const prints = await Promise.all(
      others.map((k) => {
        const raw = rawKey(k);
        return raw ? fingerprint(raw) : k;
      }),
    );
    return {
      state: "rekeyed",
      headline: "Signed by another key than the heads of this log seen before",
      detail:
        `heads of log ${head.log_id} were seen in this tab under ${others.length === 1 ? "a key" : "keys"} of ` +
        `SHA-256 fingerprint ${prints.join(", ")}, and this one under another, so it cannot be checked against ` +
        `them. Its ${remembered}`,
    };
  }
  const kept = ` The head seen at size ${m} (root ${seen.root_hash}) stays remembered; this one is not.`;
  const inconsistent = (detail) => ({
    state: "inconsistent",
    headline: "NOT consistent: the log was rewritten or forked",
    detail: detail + kept,
  });
  const consistent = (detail) => {
    rememberHead(slot, head);
    return { state: "consistent", headline: `Consistent with the head seen at size ${m}`, detail };
  };
  if (n < m)
    return inconsistent(
      `this head is of ${n} leaves, fewer than the ${m} of the head seen before: a log only grows.`,
    );
  if (n === m)
    return head.root_hash === seen.root_hash
      ? consistent("the same tree as the head seen before: same size, same root.")
      : inconsistent(
          `this head and the head seen before are both of ${n} leaves, but this one's root is ${head.root_hash}.`,
        );
  if (m === 0) return consistent("the head seen before was of the empty tree, which every tree extends.");
  let answer;
  try {
    answer = await api("/v1/log/proof/consistency", { first: String(m), second: String(n) });
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    return {
      state: "unchecked",
      headline: "Consistency not checked",
      detail:
        `the consistency proof from ${m} to ${n} leaves could not be fetched ` +
        `(${err instanceof Error ? err.message : String(err)}).${kept}`,
    };
  }
  const proof = hashList(answer?.proof);
  if (answer?.first !== m || answer?.second !== n || !proof)
    return inconsistent(
      `the server's answer for a consistency proof from ${m} to ${n} leaves is not one ` +
        "(other sizes, or hashes that are not 64 lowercase hex digits).",
    );
  const roots = await rootsFromConsistency(m, n, /** @type {Uint8Array} */ (hash32(seen.root_hash)), proof);
  if (!roots)
    return inconsistent(
      `the consistency proof from ${m} to ${n} leaves (${proof.length} hashes) cannot be one between trees of these sizes.`,
    );
  if (toHex(roots.first) !== seen.root_hash)
    return inconsistent(
      `the consistency proof from ${m} to ${n} leaves leads to ${toHex(roots.first)}, not to the root of ` +
        "the head seen before.",
    );
  if (toHex(roots.second) !== head.root_hash)
    return inconsistent(
      `the consistency proof from ${m} to ${n} leaves leads to ${toHex(roots.second)}, not to this head's ` +
        `root ${head.root_hash}.`,
    );
  return consistent(
    `the consistency proof from ${m} to ${n} leaves, checked in this browser (RFC 9162 §2.1.4.2), leads to ` +
      `both the root seen before and this head's root ${head.root_hash}: the log only grew. This head is ` +
      "now the one remembered.",
  );
}

/** The paragraph that says whether a head is consistent with the one seen before; loud when it is not. */
function consistencyVerdict(c) {
  // A first head proves nothing yet, and fails nothing either.
  const ok = c.state === "consistent" ? true : c.state === "first" ? undefined : false;
  return el(
    "p",
    { id: "consistency-verdict", role: "status", class: c.state === "inconsistent" && "alarm" },
    ...verdictParts(ok, c.headline, c.detail),
  );
}

/**
 * A verdict's words: the headline, marked verified or not (neither when `ok` is undefined), then what it
 * rests on. @param {boolean | undefined} ok
 */
function verdictParts(ok, headline, detail) {
  const mark = ok === undefined ? false : ok ? "verified" : "not-verified";
  return [el("strong", { class: mark }, headline), `: ${detail}`];
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

/** "Root matches" → "root matches", but "NOT consistent" stays as it is. @param {string} text */
function lowerFirst(text) {
  return /^[A-Z][a-z]/.test(text) ? text.charAt(0).toLowerCase() + text.slice(1) : text;
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
    const consistency = await checkConsistency(head, check);
    const pinned = pinnedKey();
    const servedIsPinned = pinned !== null && pinned === head.public_key;
    const reload = el("button", { type: "button", id: "reload-head" }, "Load the latest head again");
    reload.addEventListener("click", () => void treeHeadView());
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
        ...verdictParts(check.state === "ok", treeHeadHeadline(check), `${check.detail}.`),
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
      el("h3", {}, "Against the head seen before"),
      consistencyVerdict(consistency),
      el(
        "p",
        { class: "note" },
        "This tab remembers the last signed head it verified, per log ID and key (session storage). A newer " +
          "head must extend it: the page fetches the log's consistency proof between the two sizes and checks " +
          "it here (RFC 9162 §2.1.4.2, SHA-256 in this browser). A smaller head, a head of the same size with " +
          "another root, or a proof that fails means the log was rewritten or forked; the head seen before " +
          "then stays the one remembered.",
      ),
      reload,
    );
    setStatus(
      `Tree head loaded; ${treeHeadHeadline(check).replace(/^Tree head /, "")}; ${lowerFirst(consistency.headline)}.`,
      consistency.state === "inconsistent",
    );
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
    const signedDetails = el("div", { id: "signed-head-proof" });
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
      signedDetails,
      el(
        "p",
        { class: "note" },
        "The page asks the log for this leaf's inclusion proof at the size of the latest signed tree head " +
          "(/v1/log/proof/inclusion) and checks here that it leads from the leaf's own hash to that head's root, " +
          "whose Ed25519 signature is checked against the pinned key (or, with none pinned, the key this server " +
          "serves). The head is also checked to extend the last one this tab verified, as on the tree head view.",
      ),
    );
    const entries = await api("/v1/log/entries", { start: String(x.index), limit: "1" });
    const entry = entries.entries?.[0];
    const leaf =
      entry && entry.index === x.index && typeof entry.leaf === "string"
        ? await leafHash(fromBase64(entry.leaf))
        : undefined;
    const result = leaf
      ? await verifyInclusion(x, leaf)
      : { ok: false, detail: "the log has no entry at this index" };
    // Every check first, then every verdict: the page never shows one while still fetching for another.
    const signed = await inclusionAgainstSignedHead(x.index, leaf);
    verdict.replaceChildren(
      ...verdictParts(
        result.ok,
        result.ok ? "Inclusion proof verified" : "Inclusion proof does NOT verify",
        result.detail,
      ),
    );
    signedVerdict.replaceChildren(...verdictParts(signed.ok, signed.headline, signed.detail));
    signedDetails.replaceChildren(
      signed.proof
        ? definitionList([
            ["Signed tree size", String(signed.proof.tree_size)],
            ["Signed root hash", el("code", {}, valueText(signed.proof.root_hash))],
            [
              "Audit path at that size",
              el("ol", {}, ...signed.proof.audit_path.map((h) => el("li", {}, el("code", {}, valueText(h))))),
            ],
          ])
        : "",
      signed.consistency ? consistencyVerdict(signed.consistency) : "",
    );
    setStatus(
      `${
        result.ok
          ? "Exchange loaded; its inclusion proof verified"
          : "Exchange loaded; its proof does NOT verify"
      }; ${lowerFirst(signed.headline)}${
        signed.consistency?.state === "inconsistent"
          ? "; the signed head is NOT consistent with the one seen before"
          : ""
      }.`,
      signed.consistency?.state === "inconsistent",
    );
  } catch (err) {
    failed(err, out);
  }
}

/**
 * Whether leaf `index`, whose own bytes hash to `leaf`, is in the tree of the latest signed tree head: the
 * page asks for the leaf's inclusion proof at that head's size, so the root the proof leads to is always
 * compared with a root the log signed. The head's signature is checked, and the head checked to extend the
 * one seen before (`consistency`), as on the tree head view.
 * @param {number} index @param {Uint8Array | undefined} leaf
 * @returns {Promise<{ok: boolean, headline: string, detail: string,
 *   proof?: {tree_size: number, root_hash: string, audit_path: string[]},
 *   consistency?: Awaited<ReturnType<typeof checkConsistency>>}>}
 */
async function inclusionAgainstSignedHead(index, leaf) {
  const notCompared = (detail) => ({ ok: false, headline: "Not compared with a signed head", detail });
  let head;
  try {
    head = await api("/v1/log/tree-head");
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    return notCompared(`no tree head to compare with (${err instanceof Error ? err.message : String(err)}).`);
  }
  const check = await checkTreeHead(head);
  const consistency = await checkConsistency(head, check);
  const size = head.tree_size;
  const answer = (r) => ({ ...r, consistency });
  if (check.state !== "ok")
    return answer(
      notCompared(
        check.state === "bad"
          ? `the tree head of size ${valueText(size)} is NOT signed by ${check.against} (${check.detail}).`
          : `the signature of the tree head of size ${valueText(size)} could not be checked (${check.detail}).`,
      ),
    );
  if (!leaf) return answer(notCompared("the log has no entry at this index whose bytes could be hashed."));
  if (!Number.isSafeInteger(index) || index < 0 || index >= size)
    return answer(
      notCompared(
        `leaf ${valueText(index)} is not in the latest signed tree head, of ${size} leaves: it was logged ` +
          "after that head was signed, and a later head will cover it.",
      ),
    );
  let proof;
  try {
    proof = await api("/v1/log/proof/inclusion", { index: String(index), tree_size: String(size) });
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    return answer(
      notCompared(
        `the inclusion proof at the signed head's size ${size} could not be fetched ` +
          `(${err instanceof Error ? err.message : String(err)}).`,
      ),
    );
  }
  const path = hashList(proof?.audit_path);
  const shown = {
    tree_size: size,
    root_hash: head.root_hash,
    audit_path: Array.isArray(proof?.audit_path) ? proof.audit_path : [],
  };
  const fails = (detail) =>
    answer({
      ok: false,
      headline: "Inclusion in the signed tree head does NOT verify",
      detail,
      proof: shown,
    });
  if (proof?.index !== index || proof?.tree_size !== size || !path)
    return fails(
      `the server's answer for leaf ${index} at size ${size} is not a proof for them ` +
        "(other numbers, or hashes that are not 64 lowercase hex digits).",
    );
  if (proof.leaf_hash !== toHex(leaf))
    return fails(
      `the leaf's bytes hash to ${toHex(leaf)}, but the proof at size ${size} names leaf hash ${valueText(proof.leaf_hash)}.`,
    );
  const computed = await rootFromInclusion(index, size, leaf, path);
  if (!computed) return fails(`the audit path at size ${size} cannot belong to leaf ${index} of ${size}.`);
  const by = check.pinned
    ? "signed by the pinned key"
    : "signed by the key this server serves (which only shows the server holds that key; pin the log's key on the tree head view)";
  if (toHex(computed) !== head.root_hash)
    return answer({
      ok: false,
      headline: "Root is NOT that of the signed tree head",
      detail: `the proof at size ${size} leads to ${toHex(computed)}; the tree head of size ${size}, ${by}, has root ${head.root_hash}.`,
      proof: shown,
    });
  return answer({
    ok: true,
    headline: "Root matches the signed tree head",
    detail: `the proof at size ${size} leads to ${head.root_hash}, the root of the tree head of size ${size}, ${by}.`,
    proof: shown,
  });
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
