// @ts-check
// An exchange's inclusion proof, checked in this browser with merkle.js.

/** @import { ExchangeJson } from "./api-types.js" */
import { hash32, rootFromInclusion, sameBytes, toHex } from "./merkle.js";

/**
 * Checks the inclusion proof an exchange's answer carries, with nothing but the bytes: `leaf`, the hash of
 * the leaf's own bytes (from /v1/log/entries, hashed here), must be the answer's leaf hash, and its audit
 * path must lead to the answer's root. That root is the server's word; `inclusionAgainstSignedHead` checks
 * the leaf against a root the log signed.
 * @param {ExchangeJson} exchange @param {Uint8Array} leaf @returns {Promise<{ok: boolean, detail: string}>}
 */
export async function verifyInclusion(exchange, leaf) {
  const inc = exchange.inclusion;
  const root = hash32(inc?.root_hash);
  const claimedLeaf = hash32(exchange.leaf_hash);
  const path = hashList(inc?.audit_path);
  if (!inc || !root || !claimedLeaf || !path)
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

/**
 * A list of 64-hex-digit hashes as bytes; undefined when it is not an array or one of them is not one.
 * @param {unknown} list @returns {Uint8Array[] | undefined}
 */
export function hashList(list) {
  if (!Array.isArray(list)) return undefined;
  const hashes = list.map(hash32);
  return hashes.every((h) => h !== undefined) ? /** @type {Uint8Array[]} */ (hashes) : undefined;
}
