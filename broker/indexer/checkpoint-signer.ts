import { createPublicKey, type KeyObject } from "node:crypto";
import { logVkey, signCheckpoint } from "../../core/log-format/index.js";
import { rawEd25519 } from "../../core/signing/index.js";

/** A signed tree head's checkpoint (C2SP tlog-checkpoint note), from the head's size and root (hex). */
export type CheckpointOf = (head: { treeSize: number; rootHash: string }) => string;

export interface CheckpointSigner {
  checkpointOf: CheckpointOf;
  /** The log's verifier key (`<log id>+<key ID>+<key>`), what clients and witnesses are given. */
  vkey: string;
}

/**
 * The C2SP encoding of the tree heads the signer has already signed and stored: the same (log ID, size,
 * root) under the same key, as a signed note. It is a pure function of those (Ed25519 signatures are
 * deterministic and a checkpoint carries no time), so it signs nothing the log did not already vouch
 * for, and every instance holding the key writes byte-identical checkpoints. Only heads the signing
 * round has published may be passed in. Keeps the last one, since every reader asks for the latest.
 */
export function checkpointSigner(logId: string, logKey: KeyObject): CheckpointSigner {
  const raw = rawEd25519(createPublicKey(logKey));
  let last: { size: number; root: string; note: string } | undefined;
  return {
    vkey: logVkey(logId, raw),
    checkpointOf(head) {
      if (last && last.size === head.treeSize && last.root === head.rootHash) return last.note;
      const rootHash = Buffer.from(head.rootHash, "hex");
      const note = signCheckpoint({ origin: logId, size: head.treeSize, rootHash }, logKey, raw);
      last = { size: head.treeSize, root: head.rootHash, note };
      return note;
    },
  };
}

/** The checkpoint the log serves now: its size and the whole note (with any cosignatures). */
export interface CheckpointSource {
  latest(): { size: number; note: string } | undefined;
}

/** The latest signed tree head of `index` as a checkpoint signed by the log alone. */
export function indexCheckpoints(
  index: { latestTreeHead(): { treeSize: number; rootHash: string } | undefined },
  checkpointOf: CheckpointOf,
): CheckpointSource {
  return {
    latest() {
      const head = index.latestTreeHead();
      return head && { size: head.treeSize, note: checkpointOf(head) };
    },
  };
}
