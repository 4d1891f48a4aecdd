import { createHash, hash } from "node:crypto";

/**
 * The hashing rules of the exchange log's Merkle tree, RFC 6962 / RFC 9162
 * §2.1.1: domain-separated so a leaf can never pass for a node. The writer,
 * the indexer and the offline verifier share these two functions and nothing
 * else.
 */
export function leafHash(leaf: Uint8Array): Buffer {
  // Small leaves (log records, signed messages) are copied behind the prefix and hashed in one call,
  // about twice as fast as a hash object; large ones are streamed rather than copied.
  if (leaf.length > 4096) return createHash("sha256").update(LEAF_PREFIX).update(leaf).digest();
  const b = Buffer.allocUnsafe(1 + leaf.length);
  b[0] = 0x00;
  b.set(leaf, 1);
  return hash("sha256", b, "buffer");
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== 32 || right.length !== 32)
    return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
  const b = Buffer.allocUnsafe(65);
  b[0] = 0x01;
  b.set(left, 1);
  b.set(right, 33);
  return hash("sha256", b, "buffer");
}

/** SHA-256 of the empty string: the root of the empty tree. */
export const EMPTY_ROOT = createHash("sha256").digest();

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** The bytes a signed tree head's signature covers (README, "Exchange log"). */
export function treeHeadSignedBytes(h: {
  logId: string;
  treeSize: number;
  rootHash: string;
  timestamp: number;
}): Buffer {
  return Buffer.from(`xbus-tree-head/v1\n${h.logId}\n${h.treeSize}\n${h.rootHash}\n${h.timestamp}\n`);
}

/**
 * The bytes a receipt's signature covers (README, "Receipts"). A receipt that
 * names its exchange (any of exchangeId, requestHash, responseHash set) signs
 * `xbus-receipt/v2`, which adds them; one that names none is an older
 * `xbus-receipt/v1` receipt and is checked as it was signed. A v2 receipt
 * stripped of them no longer verifies (v1 bytes were never signed), nor does a
 * v1 receipt given them. Hashes are lowercase hex; responseHash is "" when
 * nothing was released.
 */
export function receiptSignedBytes(r: {
  logId: string;
  leafIndex: bigint | number;
  leafHash: string;
  timestamp: bigint | number;
  brokerId: string;
  exchangeId?: string;
  /** Hex, or the bytes as a Receipt holds them. */
  requestHash?: string | Uint8Array;
  responseHash?: string | Uint8Array;
}): Buffer {
  const head = `${r.logId}\n${r.leafIndex}\n${r.leafHash}\n${r.timestamp}\n${r.brokerId}\n`;
  const request = hexOf(r.requestHash);
  const response = hexOf(r.responseHash);
  if (!r.exchangeId && !request && !response) return Buffer.from(`xbus-receipt/v1\n${head}`);
  return Buffer.from(`xbus-receipt/v2\n${head}${r.exchangeId ?? ""}\n${request}\n${response}\n`);
}

function hexOf(h: string | Uint8Array | undefined): string {
  if (h === undefined || typeof h === "string") return h ?? "";
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString("hex");
}

/**
 * The root of a small tree held in memory (RFC 6962 §2.1 MTH over leaf
 * hashes) and every leaf's audit path (§2.1.1 PATH), nearest sibling first.
 */
export function treeWithPaths(leafHashes: readonly Buffer[]): { root: Buffer; paths: Buffer[][] } {
  const paths: Buffer[][] = leafHashes.map(() => []);
  const rec = (lo: number, hi: number): Buffer => {
    if (hi - lo === 1) return leafHashes[lo] as Buffer;
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    const left = rec(lo, lo + k);
    const right = rec(lo + k, hi);
    for (let i = lo; i < lo + k; i++) paths[i]?.push(right);
    for (let i = lo + k; i < hi; i++) paths[i]?.push(left);
    return nodeHash(left, right);
  };
  return { root: leafHashes.length === 0 ? EMPTY_ROOT : rec(0, leafHashes.length), paths };
}

/**
 * RFC 9162 §2.1.3.2: the root that `path` leads to from leaf `index` (hash
 * `leaf`) of a tree of `size` leaves; undefined when the path cannot belong
 * to such a tree (too short, too long, index out of range).
 */
export function rootFromInclusion(
  index: number,
  size: number,
  leaf: Buffer,
  path: readonly Uint8Array[],
): Buffer | undefined {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index >= size || index < 0) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 ? r : undefined;
}
