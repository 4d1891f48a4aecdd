import { EMPTY_ROOT, leafHash, nodeHash, rootFromInclusion } from "../core/log-format/index.js";

/*
 * The offline verifier's own Merkle code, deliberately independent of the
 * indexer's (broker/indexer/merkle-store.ts): it shares only the hashing rules
 * it checks (core/log-format/merkle-hash.ts, with the inclusion walk that batch
 * signatures use too). Proof checks follow RFC 9162 §2.1.3.2 and §2.1.4.2.
 */

/** MTH over leaf hashes, RFC 6962 §2.1, computed level by level in memory. */
export function rootFromLeafHashes(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY_ROOT;
  const rec = (lo: number, hi: number): Buffer => {
    if (hi - lo === 1) return leaves[lo] as Buffer;
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    return nodeHash(rec(lo, lo + k), rec(lo + k, hi));
  };
  return rec(0, leaves.length);
}

export function rootFromLeaves(leaves: readonly Uint8Array[]): Buffer {
  return rootFromLeafHashes(leaves.map((l) => leafHash(l)));
}

/** RFC 9162 §2.1.3.2: does `path` prove leaf `index` with `leaf` hash is in the tree of `size` with `root`? */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Buffer,
  path: readonly Buffer[],
  root: Buffer,
): boolean {
  return rootFromInclusion(index, size, leaf, path)?.equals(root) ?? false;
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree of `second` extends the tree of `first`? */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Buffer,
  secondRoot: Buffer,
  proof: readonly Buffer[],
): boolean {
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (first < 1 || first > second || proof.length === 0) return false;
  const path = [...proof];
  if ((first & (first - 1)) === 0) path.unshift(firstRoot);
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn >>= 1;
    sn >>= 1;
  }
  let fr = path[0] as Buffer;
  let sr = path[0] as Buffer;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && fr.equals(firstRoot) && sr.equals(secondRoot);
}
