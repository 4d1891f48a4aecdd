// @ts-check
// One exchange: its record, and the proof that it is in the log, checked in this browser twice: against
// the root the answer names, and against the latest tree head the log signed.

/** @import { EntriesJson, ExchangeJson, InclusionProofJson, TreeHeadJson } from "./api-types.js" */
/** @import { ConsistencyCheck } from "./consistency.js" */
import { api, apiText, errorText, failed } from "./api.js";
import { fromBase64 } from "./base64.js";
import { checkConsistency, consistencyVerdict } from "./consistency.js";
import { definitionList, el, lowerFirst, setStatus, show, timeText, valueText, verdictParts } from "./dom.js";
import { hashList, verifyInclusion } from "./inclusion.js";
import { leafHash, rootFromInclusion, toHex } from "./merkle.js";
import { checkTreeHead, pinnedKey, rawKey } from "./signature.js";
import { checkTlogProof } from "./tlog-proof.js";
import { Unauthorized } from "./token.js";

/** @param {string} id the exchange's UUID, as the location names it */
export async function exchangeView(id) {
  const out = el("div");
  show(`Exchange ${id}`, out);
  setStatus("Loading…");
  try {
    const x = /** @type {ExchangeJson} */ (await api(`/v1/exchanges/${encodeURIComponent(id)}`));
    const record = x.record ?? {};
    const verdict = el("p", { id: "inclusion-verdict", role: "status" }, "Checking the inclusion proof…");
    const signedVerdict = el(
      "p",
      { id: "signed-head-verdict", role: "status" },
      "Comparing with the signed tree head…",
    );
    const signedDetails = el("div", { id: "signed-head-proof" });
    const witnessedVerdict = el(
      "p",
      { id: "tlog-proof-verdict", role: "status" },
      "Checking the tlog-proof and its witnesses…",
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
      signedDetails,
      el(
        "p",
        { class: "note" },
        "The page asks the log for this leaf's inclusion proof at the size of the latest signed tree head " +
          "(/v1/log/proof/inclusion) and checks here that it leads from the leaf's own hash to that head's root, " +
          "whose Ed25519 signature is checked against the pinned key (or, with none pinned, the key this server " +
          "serves). The head is also checked to extend the last one this tab verified, as on the tree head view.",
      ),
      el("h3", {}, "Witnessed (C2SP tlog-proof)"),
      witnessedVerdict,
      el(
        "p",
        { class: "note" },
        "The page fetches this leaf's tlog-proof (/v1/log/tlog-proof) and checks it here, as `xbus log receipt " +
          "--offline --proof` does: the checkpoint's Ed25519 signature by the log's key (the pinned one, or the " +
          "one this server serves), the inclusion path from the leaf's own hash to the checkpoint's root, and " +
          "the witnesses' cosignatures against the witness policy (/v1/log/witness-policy, as this server " +
          "serves it) and its quorum. Each witness's time is its own clock's.",
      ),
    );
    const entries = /** @type {EntriesJson} */ (
      await api("/v1/log/entries", { start: String(x.index), limit: "1" })
    );
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
    const witnessed = await witnessedCheck(x.index, leaf);
    verdict.replaceChildren(
      ...verdictParts(
        result.ok,
        result.ok ? "Inclusion proof verified" : "Inclusion proof does NOT verify",
        result.detail,
      ),
    );
    signedVerdict.replaceChildren(...verdictParts(signed.ok, signed.headline, signed.detail));
    witnessedVerdict.replaceChildren(...verdictParts(witnessed.ok, witnessed.headline, witnessed.detail));
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
 * The leaf compared with the latest signed tree head: the verdict, the proof shown (at that head's size)
 * and the head's consistency with the one seen before.
 * @typedef {{ok: boolean, headline: string, detail: string,
 *   proof?: {tree_size: number, root_hash: string, audit_path: unknown[]},
 *   consistency?: ConsistencyCheck}} SignedHeadCheck
 */

/**
 * Whether leaf `index`, whose own bytes hash to `leaf`, is in the tree of the latest signed tree head: the
 * page asks for the leaf's inclusion proof at that head's size, so the root the proof leads to is always
 * compared with a root the log signed. The head's signature is checked, and the head checked to extend the
 * one seen before (`consistency`), as on the tree head view.
 * @param {number} index @param {Uint8Array | undefined} leaf
 * @returns {Promise<SignedHeadCheck>}
 */
async function inclusionAgainstSignedHead(index, leaf) {
  /** @param {string} detail @returns {SignedHeadCheck} */
  const notCompared = (detail) => ({ ok: false, headline: "Not compared with a signed head", detail });
  let head;
  try {
    head = /** @type {TreeHeadJson} */ (await api("/v1/log/tree-head"));
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    return notCompared(`no tree head to compare with (${errorText(err)}).`);
  }
  const check = await checkTreeHead(head);
  const consistency = await checkConsistency(head, check);
  const size = head.tree_size;
  /** @param {SignedHeadCheck} r */
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
    proof = /** @type {InclusionProofJson | undefined} */ (
      await api("/v1/log/proof/inclusion", { index: String(index), tree_size: String(size) })
    );
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    return answer(
      notCompared(
        `the inclusion proof at the signed head's size ${size} could not be fetched (${errorText(err)}).`,
      ),
    );
  }
  const path = hashList(proof?.audit_path);
  const shown = {
    tree_size: size,
    root_hash: head.root_hash,
    audit_path: Array.isArray(proof?.audit_path) ? proof.audit_path : [],
  };
  /** @param {string} detail */
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

/**
 * The leaf's C2SP tlog-proof, checked here (tlog-proof.js) against the log's key (pinned, else served) and
 * the witness policy the server serves: "Witnessed by W1 at …" with each witness's time, or why not.
 * `ok` is undefined when there is nothing to check yet (the leaf is newer than the witnessed checkpoint).
 * @param {number} index @param {Uint8Array | undefined} leaf
 * @returns {Promise<{ok: boolean | undefined, headline: string, detail: string}>}
 */
async function witnessedCheck(index, leaf) {
  const notChecked = (/** @type {string} */ detail) => ({
    ok: false,
    headline: "tlog-proof not checked",
    detail,
  });
  if (!leaf) return notChecked("the log has no entry at this index whose bytes could be hashed.");
  let head;
  let proof;
  try {
    head = /** @type {TreeHeadJson} */ (await api("/v1/log/tree-head"));
    proof = await apiText("/v1/log/tlog-proof", { index: String(index) });
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    const text = errorText(err);
    if (text.startsWith("404:"))
      return { ok: undefined, headline: "No tlog-proof to check", detail: `${text.slice(5)}.` };
    return notChecked(`the tlog-proof could not be fetched (${text}).`);
  }
  /** @type {string | undefined} */
  let policy;
  try {
    policy = await apiText("/v1/log/witness-policy");
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    if (!errorText(err).startsWith("404:"))
      return notChecked(`the witness policy could not be fetched (${errorText(err)}).`);
  }
  const pinned = pinnedKey();
  const key = rawKey(pinned ?? head?.public_key);
  const against = pinned ? "the pinned key" : "the key this server serves";
  if (!key || typeof head?.log_id !== "string") return notChecked(`${against} is not a 32-byte Ed25519 key.`);
  let r;
  try {
    r = await checkTlogProof(proof, { index, leaf, logId: head.log_id, logKey: key, policy });
  } catch (err) {
    return notChecked(`this browser could not check an Ed25519 signature (${errorText(err)}).`);
  }
  if (!r.ok) return { ok: false, headline: "tlog-proof does NOT verify", detail: `${r.detail}.` };
  const at = r.cosigned.map((c) => `${c.name} at ${new Date(c.time * 1000).toISOString()}`).join(", ");
  const base = `the checkpoint of size ${r.size} is signed by ${against} and the inclusion path leads from this leaf to its root`;
  if (policy === undefined)
    return {
      ok: true,
      headline: "tlog-proof verified, not witnessed",
      detail: `${base}; this log has no witness policy.`,
    };
  return {
    ok: true,
    headline: at ? `Witnessed by ${at}` : "tlog-proof verified",
    detail: `${base}, and the cosignatures meet the witness policy's quorum.`,
  };
}
