// @ts-check
// "Who read my data": the signed-in citizen's exchanges, each verifiable here against the signed tree head
// with the review UI's own hashing (merkle.js) and signature check (signature.js). No data reaches the page
// but from /citizen/api/*, which answers for the session's citizen only; nothing is put into the page as HTML.

import { fromBase64 } from "../../review/ui/base64.js";
import { hash32, leafHash, rootFromInclusion, sameBytes } from "../../review/ui/merkle.js";
import { checkTreeHead } from "../../review/ui/signature.js";
import { strings } from "./strings.js";

const s = strings();

/**
 * @param {string} tag @param {Record<string, string>} [attrs] @param {(Node | string)[]} children
 * @returns {HTMLElement}
 */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** @param {string} id */
function byId(id) {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e;
}

/**
 * @typedef {{index: number, exchange_id: string, time: number, agency: string, system: string,
 *   service: string, purpose: string, purpose_description: string, legal_basis: string, decision: string,
 *   status: string, fields_released: string[], fields_withheld: string[], consent_id: string | null,
 *   leaf_hash: string, disclosed_at: number | null, legal_order_ref: string | null}} AccessRow
 */

/** @param {AccessRow} row @param {HTMLElement} out */
async function verify(row, out) {
  out.textContent = s.verifying;
  const started = performance.now();
  const res = await fetch(`/citizen/api/accesses/${encodeURIComponent(row.exchange_id)}/proof`);
  if (res.status === 409) {
    out.textContent = s.notYet;
    return;
  }
  /** @type {any} */
  const p = await res.json();
  let problem = "";
  if (!res.ok) problem = String(p?.error ?? res.status);
  else {
    const leaf = await leafHash(fromBase64(String(p.leaf)));
    const claimed = hash32(row.leaf_hash);
    const path = Array.isArray(p.audit_path) ? p.audit_path.map(hash32) : [];
    const root = hash32(p.tree_head?.root_hash);
    const computed =
      path.every((/** @type {unknown} */ h) => h !== undefined) && p.tree_size === p.tree_head?.tree_size
        ? await rootFromInclusion(row.index, p.tree_size, leaf, path)
        : undefined;
    const head = await checkTreeHead(p.tree_head);
    if (!claimed || !sameBytes(leaf, claimed)) problem = "the record does not match its fingerprint";
    else if (!computed || !root || !sameBytes(computed, root))
      problem = "the proof does not lead to the signed root";
    else if (head.state !== "ok") problem = head.detail;
  }
  out.dataset.ms = String(performance.now() - started);
  out.classList.add(problem ? "verdict-bad" : "verdict-ok");
  out.textContent = problem ? `${s.notVerified} ${problem}` : s.verified;
}

/** @param {AccessRow} row */
function rowOf(row) {
  const verdict = el("span", { class: "verdict" });
  const button = el("button", { type: "button", class: "verify" }, s.verify);
  button.addEventListener("click", () => void verify(row, verdict));
  const allowed = row.decision === "allow";
  const fields = el("td", {}, row.fields_released.length ? row.fields_released.join(", ") : s.noFields);
  if (row.fields_withheld.length) fields.append(el("br"), `${s.withheld} ${row.fields_withheld.join(", ")}`);
  return el(
    "tr",
    { class: allowed ? "allowed" : "denied", "data-exchange-id": row.exchange_id },
    el("td", {}, new Date(row.time).toLocaleString()),
    el("td", {}, `${row.agency}, ${row.system}`),
    el("td", {}, row.service),
    el(
      "td",
      {},
      row.purpose_description || row.purpose,
      el("br"),
      el("small", {}, row.legal_basis),
      ...(row.disclosed_at === null
        ? []
        : [
            el("br"),
            el(
              "small",
              { class: "disclosed-later" },
              s.disclosedLater(new Date(row.disclosed_at).toLocaleDateString(), row.legal_order_ref ?? "?"),
            ),
          ]),
    ),
    fields,
    el("td", {}, row.consent_id ?? s.noConsent),
    el("td", {}, allowed ? s.allowed : `${s.denied} (${row.status})`),
    el("td", {}, button, " ", verdict),
  );
}

/** The portal-notification choice, when a portal is configured to be told; else nothing. */
async function notifyChoice() {
  const res = await fetch("/citizen/api/notifications");
  /** @type {any} */
  const state = res.ok ? await res.json() : undefined;
  if (!state?.available) return "";
  const box = /** @type {HTMLInputElement} */ (el("input", { type: "checkbox", id: "notify" }));
  box.checked = state.enabled === true;
  const saved = el("span", { id: "notify-saved", role: "status" });
  box.addEventListener("change", async () => {
    box.disabled = true;
    const put = await fetch("/citizen/api/notifications", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ enabled: box.checked }),
    });
    /** @type {any} */
    const now = put.ok ? await put.json() : undefined;
    box.checked = now?.enabled === true;
    saved.textContent = now ? s.notifySaved(box.checked) : `${s.failed} ${put.status}`;
    box.disabled = false;
  });
  return el("p", {}, el("label", {}, box, " ", s.notify), " ", saved);
}

async function main() {
  document.title = s.title;
  byId("title").textContent = s.title;
  byId("sign-out-button").textContent = s.signOut;
  const view = byId("view");
  byId("status").textContent = s.loading;
  /** @type {any} */
  const session = await (await fetch("/citizen/session")).json();
  if (!session?.signed_in) {
    byId("status").textContent = "";
    view.replaceChildren(
      el("p", {}, s.signedOutIntro),
      el("p", {}, el("a", { href: "/citizen/login", id: "sign-in", class: "button" }, s.signIn)),
    );
    return;
  }
  const res = await fetch("/citizen/api/accesses");
  byId("status").textContent = "";
  /** @type {any} */
  const body = await res.json();
  if (!res.ok) {
    view.replaceChildren(el("p", { role: "alert" }, `${s.failed} ${body?.error ?? res.status}`));
    return;
  }
  byId("sign-out").hidden = false;
  /** @type {AccessRow[]} */
  const rows = body.accesses;
  const notify = await notifyChoice();
  const c = s.columns;
  view.replaceChildren(
    el("p", {}, s.intro),
    el("p", { id: "count" }, s.count(rows.length), body.truncated ? ` ${s.truncated}` : ""),
    el(
      "p",
      {},
      el("a", { href: "/citizen/api/export", download: "who-read-my-data.json", id: "download" }, s.download),
    ),
    notify,
    rows.length === 0
      ? el("p", { id: "none" }, s.none)
      : el(
          "table",
          { id: "accesses" },
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ...[c.when, c.who, c.service, c.purpose, c.fields, c.consent, c.outcome, c.proof].map((h) =>
                el("th", {}, h),
              ),
            ),
          ),
          el("tbody", {}, ...rows.map(rowOf)),
        ),
    el("p", { class: "note" }, s.proofNote),
  );
}

void main();
