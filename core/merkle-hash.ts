import { createHash } from "node:crypto";

/**
 * The hashing rules of the exchange log's Merkle tree, RFC 6962 / RFC 9162
 * §2.1.1: domain-separated so a leaf can never pass for a node. The writer,
 * the indexer and the offline verifier share these two functions and nothing
 * else.
 */
export function leafHash(leaf: Uint8Array): Buffer {
  return createHash("sha256").update(LEAF_PREFIX).update(leaf).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
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

/** The bytes a receipt's signature covers (README, "Receipts"). */
export function receiptSignedBytes(r: {
  logId: string;
  leafIndex: bigint | number;
  leafHash: string;
  timestamp: bigint | number;
  brokerId: string;
}): Buffer {
  return Buffer.from(
    `xbus-receipt/v1\n${r.logId}\n${r.leafIndex}\n${r.leafHash}\n${r.timestamp}\n${r.brokerId}\n`,
  );
}
