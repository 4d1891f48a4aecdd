import type { KeyObject } from "node:crypto";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { rawEd25519 } from "../../core/signing/index.js";
import { type TreeHeadJson, treeHeadProblem } from "../../verifier/index.js";
import { openOrCreateBucket } from "../log/stream-settings.js";
import type { TreeHead } from "./head-signer.js";

/** The JetStream KV bucket of the log's last signed head (key `head`) and of the signer's lease (key `lease`). */
export const LOG_HEAD_BUCKET = "XBUS_LOG_HEAD";
export const LOG_HEAD_BUCKET_OPTIONS = { history: 16 };
const HEAD_KEY = "head";

/** The last signed head as the bucket holds it, and the revision a compare-and-swap must name. */
export interface LastHead {
  head: TreeHead;
  revision: number;
}

/**
 * The bucket holds something that is not a signed head of this log under this key: no signer may go
 * on from it (a restored instance with another key, a bucket shared by two logs, a forged value).
 */
export class HeadLockError extends Error {
  override name = "HeadLockError";
}

/**
 * The last signed tree head in one JetStream KV key: the lock that outranks every index (Sunlight's
 * lock backend). A head is published only by compare-and-swap on the key's revision (`kv.update`
 * with the revision read), so of two signers that read the same last head, one publishes and the
 * other's write is refused; neither can replace a head it did not read.
 */
export interface HeadLock {
  readonly kv: KV;
  /** The last signed head, checked (shape, log id, key, signature); undefined while none was published. */
  last(): Promise<LastHead | undefined>;
  /**
   * Publishes `head` if the key is still at `previous` (undefined: if the key holds no head yet).
   * Resolves to the new revision, or undefined when another signer wrote first.
   */
  publish(head: TreeHead, previous: number | undefined): Promise<number | undefined>;
}

export async function openLogHeadBucket(nc: NatsConnection, bucket = LOG_HEAD_BUCKET): Promise<KV> {
  // Opens the bucket when it exists (an admin may have made it, at R3) and makes it otherwise.
  return openOrCreateBucket(nc, bucket, LOG_HEAD_BUCKET_OPTIONS);
}

export async function openHeadLock(o: {
  nats: NatsConnection;
  bucket?: string;
  logId: string;
  publicKey: KeyObject;
}): Promise<HeadLock> {
  const kv = await openLogHeadBucket(o.nats, o.bucket);
  const key = rawEd25519(o.publicKey).toString("base64");
  return {
    kv,
    async last() {
      const e = await kv.get(HEAD_KEY);
      if (e?.operation !== "PUT") return undefined;
      let json: unknown;
      try {
        json = JSON.parse(e.string());
      } catch {
        throw new HeadLockError(`${LOG_HEAD_BUCKET} ${HEAD_KEY} (revision ${e.revision}) is not JSON`);
      }
      const problem = treeHeadProblem(json, `the last signed head (revision ${e.revision})`, {
        key: { value: key, from: "this signer's key" },
        logId: { value: o.logId, from: "this signer's log" },
      });
      if (problem) throw new HeadLockError(problem);
      const h = json as TreeHeadJson;
      return {
        revision: e.revision,
        head: {
          logId: h.log_id,
          treeSize: h.tree_size,
          rootHash: h.root_hash,
          timestamp: h.timestamp,
          signature: h.signature,
        },
      };
    },
    async publish(head, previous) {
      const value = JSON.stringify({
        log_id: head.logId,
        tree_size: head.treeSize,
        root_hash: head.rootHash,
        timestamp: head.timestamp,
        signature: head.signature,
        public_key: key,
      } satisfies TreeHeadJson);
      try {
        return previous === undefined
          ? await kv.create(HEAD_KEY, value)
          : await kv.update(HEAD_KEY, value, previous);
      } catch (err) {
        if (isWrongLastSequence(err)) return undefined;
        throw err;
      }
    },
  };
}

/** JetStream's refusal of a write whose expected last revision is not the key's: someone wrote first. */
export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
