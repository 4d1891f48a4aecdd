import type { KeyObject } from "node:crypto";
import type { Logger } from "../../core/index.js";
import { proveGrowth } from "../../verifier/index.js";
import { type HeadLock, HeadLockError } from "./head-lock.js";
import { signHead, type TreeHead, type UnsignedHead } from "./head-signer.js";
import type { LogIndex } from "./log-index.js";
import type { SignerLease } from "./signer-lease.js";

export type SignerRole = "active" | "standby";

export interface HeadPublisherOptions {
  index: LogIndex;
  lock: HeadLock;
  lease: SignerLease;
  logKey: KeyObject;
  logger: Logger;
  /** Called once when this instance stops signing for good, with why (readiness reports it). */
  onHalt: (reason: string) => void;
  /** Called when the instance becomes the signer or stops being it. */
  onRole?: (role: SignerRole) => void;
  /**
   * Tests: runs after a head is signed and shown to extend the last one, just before its
   * compare-and-swap: the moment a paused signer can be overtaken.
   */
  beforePublish?: (head: TreeHead) => Promise<void>;
}

export interface HeadPublisher {
  /** One signing round; never run two at once (the indexer chains them). */
  round(): Promise<void>;
  readonly role: SignerRole | undefined;
  readonly halted: string | undefined;
  /** Gives the lease up, after the last round. */
  release(): Promise<void>;
}

const headJson = (h: UnsignedHead) => ({ tree_size: h.treeSize, root_hash: h.rootHash });

/**
 * The log service's signing round, one every second or so (README, "Log service"): read the last
 * signed head from the KV lock (head-lock.ts), keep it in the index when the index holds its tree
 * (so a standby serves the heads the active signs), and, when this instance holds the signer's lease
 * (signer-lease.ts) and its index has grown past that head: prove with the verifier's own Merkle code
 * that its tree extends the head, sign, compare-and-swap the head into the lock, and only then store
 * it in the index, where the review API serves it. A head whose swap fails never leaves the process.
 *
 * A lagging index neither takes nor keeps the lease until it has caught up; an index whose tree does not extend the last head
 * (the stream or the index rewritten), or a lock holding a head of another key or log, halts signing
 * for good with the reason.
 */
export function headPublisher(o: HeadPublisherOptions): HeadPublisher {
  const { index, lock, lease, logger } = o;
  let role: SignerRole | undefined;
  let halted: string | undefined;
  const setRole = (r: SignerRole) => {
    if (role === r) return;
    role = r;
    logger.info(
      { role: r },
      r === "active" ? "signing tree heads (lease taken)" : "standing by: another instance signs",
    );
    o.onRole?.(r);
  };
  const halt = (reason: string) => {
    if (halted) return;
    halted = reason;
    logger.error({ reason }, "tree-head signing halted");
    o.onHalt(reason);
  };
  const ownProofs = async (first: number, second: number) => ({
    first,
    second,
    proof: index.tree.consistencyProof(first, second).map((h) => h.toString("hex")),
  });

  /** Keeps the last head in the index once the index holds its tree; false if the index contradicts it. */
  const adopt = (head: TreeHead): boolean => {
    if (head.treeSize > index.treeSize) return true; // not indexed that far yet
    const root = index.tree.root(head.treeSize).toString("hex");
    if (root !== head.rootHash) {
      halt(
        `the last signed head (size ${head.treeSize}, root ${head.rootHash}) is not of this index's tree, whose root at that size is ${root}: the index or the stream was rewritten; run xbus log reindex`,
      );
      return false;
    }
    if (
      index.latestTreeHead()?.signature !== head.signature &&
      (index.latestTreeHead()?.treeSize ?? -1) <= head.treeSize
    )
      index.storeTreeHead(head);
    return true;
  };

  return {
    get role() {
      return role;
    },
    get halted() {
      return halted;
    },
    async round() {
      if (halted) return;
      let last: Awaited<ReturnType<HeadLock["last"]>>;
      try {
        last = await lock.last();
      } catch (err) {
        if (err instanceof HeadLockError) return halt(err.message);
        throw err;
      }
      if (last && !adopt(last.head)) return;
      // An index behind the last head cannot sign: it leaves the lease to an instance that has caught up.
      if (last && index.treeSize < last.head.treeSize) {
        await lease.release();
        return setRole("standby");
      }
      if (!(await lease.hold())) return setRole("standby");
      setRole("active");
      const size = index.treeSize;
      if (last && size === last.head.treeSize) return; // nothing past the last head
      const unsigned = index.unsignedHead(Math.max(Date.now(), last?.head.timestamp ?? 0));
      if (last) {
        const growth = await proveGrowth(ownProofs, {
          earlier: headJson(last.head),
          later: headJson(unsigned),
          earlierName: "the last signed head",
          laterName: "this index's tree",
        });
        if (!growth.ok) return halt(growth.problem);
      }
      const head = signHead(o.logKey, unsigned);
      await o.beforePublish?.(head);
      const revision = await lock.publish(head, last?.revision);
      if (revision === undefined) {
        // Another signer published since `last` was read: this head is dropped, never served.
        lease.lost();
        logger.warn(
          { tree_size: head.treeSize },
          "another signer published a head first; this one is dropped",
        );
        return setRole("standby");
      }
      index.storeTreeHead(head);
      logger.debug({ tree_size: head.treeSize, root_hash: head.rootHash, revision }, "tree head published");
    },
    release: () => lease.release(),
  };
}
