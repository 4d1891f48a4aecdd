import { type KeyObject, sign } from "node:crypto";
import { treeHeadSignedBytes } from "../../core/log-format/index.js";

/** What a signed tree head says: which log, how big, which root, when. */
export interface UnsignedHead {
  logId: string;
  treeSize: number;
  /** Lowercase hex. */
  rootHash: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

export interface TreeHead extends UnsignedHead {
  /** base64 Ed25519 over treeHeadSignedBytes. */
  signature: string;
}

/**
 * The one place a tree head is signed with the log's key: a pure function of the head's fields, so
 * other encodings of the same head (a C2SP checkpoint) sign beside it here, and every caller — the
 * log service's signing round (head-publisher.ts), `xbus log reindex`, tests — goes through it.
 * Signing publishes nothing: the signing round publishes a head only after its compare-and-swap on
 * the last signed head succeeded.
 */
export function signHead(logKey: KeyObject, head: UnsignedHead): TreeHead {
  const signature = sign(null, treeHeadSignedBytes(head), logKey).toString("base64");
  return { ...head, signature };
}
