// @ts-check
// Successive tree heads (RFC 9162 §2.1.4): each signed head this tab sees must extend the last one it
// verified for the same log and key, proved here by the log's consistency proof.

/** @import { ConsistencyProofJson, TreeHeadJson } from "./api-types.js" */
/** @import { SignatureCheck } from "./signature.js" */
import { api, errorText } from "./api.js";
import { el, verdictParts } from "./dom.js";
import { hashList } from "./inclusion.js";
import { hash32, rootsFromConsistency, toHex } from "./merkle.js";
import { fingerprint, rawKey } from "./signature.js";
import { Unauthorized } from "./token.js";

/**
 * A head compared with the one seen before: "first" (none seen yet), "rekeyed" (seen only under other
 * keys), "consistent", "inconsistent" (the log was rewritten or forked) or "unchecked".
 * @typedef {{state: "first" | "rekeyed" | "consistent" | "inconsistent" | "unchecked", headline: string, detail: string}} ConsistencyCheck
 */

/** @typedef {{tree_size: number, root_hash: string, timestamp: number}} SeenHead */

/**
 * The last signed tree head this tab verified, per log ID and key (session storage, as the pinned key):
 * each newer head must extend it, as a Certificate Transparency monitor checks each new head against the
 * last. Per key, because a head signed by another key proves nothing about this one's log.
 */
const SEEN_HEAD_PREFIX = "xbus-review-seen-head:";

/** @param {string} logId @param {unknown} key base64 */
function seenHeadSlot(logId, key) {
  return SEEN_HEAD_PREFIX + JSON.stringify([logId, key]);
}

/**
 * The head remembered in `slot`, or undefined when there is none (or what is there is not of its shape).
 * @param {string} slot @returns {SeenHead | undefined}
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

/** @param {string} slot @param {TreeHeadJson} head */
function rememberHead(slot, head) {
  sessionStorage.setItem(
    slot,
    JSON.stringify({ tree_size: head.tree_size, root_hash: head.root_hash, timestamp: head.timestamp }),
  );
}

/**
 * The other keys under which this tab remembers a head of `logId`: a log whose key changed.
 * @param {string} logId @param {unknown} key @returns {string[]}
 */
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
 * @param {TreeHeadJson} head @param {SignatureCheck} check @returns {Promise<ConsistencyCheck>}
 */
export function checkConsistency(head, check) {
  const run = consistencyQueue.then(() => consistencyWithSeen(head, check));
  consistencyQueue = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

/** @param {TreeHeadJson} head @param {SignatureCheck} check @returns {Promise<ConsistencyCheck>} */
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
  const m = seen.tree_size;
  const kept = ` The head seen at size ${m} (root ${seen.root_hash}) stays remembered; this one is not.`;
  /** @param {string} detail @returns {ConsistencyCheck} */
  const inconsistent = (detail) => ({
    state: "inconsistent",
    headline: "NOT consistent: the log was rewritten or forked",
    detail: detail + kept,
  });
  /** @param {string} detail @returns {ConsistencyCheck} */
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
    answer = /** @type {ConsistencyProofJson | undefined} */ (
      await api("/v1/log/proof/consistency", { first: String(m), second: String(n) })
    );
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    return {
      state: "unchecked",
      headline: "Consistency not checked",
      detail: `the consistency proof from ${m} to ${n} leaves could not be fetched (${errorText(err)}).${kept}`,
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

/**
 * The paragraph that says whether a head is consistent with the one seen before; loud when it is not.
 * @param {ConsistencyCheck} c
 */
export function consistencyVerdict(c) {
  // A first head proves nothing yet, and fails nothing either.
  const ok = c.state === "consistent" ? true : c.state === "first" ? undefined : false;
  return el(
    "p",
    { id: "consistency-verdict", role: "status", class: c.state === "inconsistent" && "alarm" },
    ...verdictParts(ok, c.headline, c.detail),
  );
}
