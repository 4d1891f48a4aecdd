import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { Hono } from "hono";
import {
  checkpointSigner,
  createReviewApp,
  indexCheckpoints,
  LogIndex,
  LogIndexReader,
} from "../../broker/index.js";
import { treeHeadSignedBytes } from "../../core/log-format/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import { ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import type { TreeHeadJson } from "../../verifier/index.js";

/** The log ID of every test index's tree heads. */
export const LOG_ID = "xbus-test-log";

export type RecordInit = MessageInitShape<typeof ExchangeRecordSchema>;

export interface TestLogIndex {
  /** The index opened read-only, as the review API opens it. */
  readonly reader: LogIndexReader;
  /** Public half of the key that signed its tree head. */
  readonly publicKey: KeyObject;
  /** Its private half: for tests that sign other heads with it, as an insider holding the log's key could. */
  readonly privateKey: KeyObject;
  /** The public key as the API serves it and `xbus log verify --public-key` takes it: base64 of the raw 32 bytes. */
  readonly keyBase64: string;
  /** The log's C2SP verifier key, for its checkpoints. */
  readonly vkey: string;
  /**
   * A tree head as `GET /v1/log/tree-head` answers it: by default of this log's whole tree, signed by
   * its key and naming it. Any field can be set, and `signer` (a private key) signs in the log's place:
   * the heads a server that rewrote or forked the log could serve.
   */
  signedHead(o?: {
    treeSize?: number;
    rootHash?: string;
    logId?: string;
    timestamp?: number;
    signer?: KeyObject;
    publicKey?: string;
  }): TreeHeadJson;
  /** The review API over this index, taking `token` and turning citizen IDs into references with `logSecret`. */
  reviewApp(o: { token: string; logSecret: Uint8Array; witnessPolicy?: string }): Hono;
  /** Closes the reader and removes the folder (afterAll). */
  close(): void;
}

/**
 * A real index file in a temp folder, written by the real writer (one leaf per record, in order, then
 * one signed tree head) and opened read-only: what the review API serves in production, without NATS.
 */
export function writeTestLogIndex(records: readonly RecordInit[]): TestLogIndex {
  const dir = mkdtempSync(join(tmpdir(), "xbus-log-index-"));
  const path = join(dir, "index.sqlite");
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const writer = new LogIndex(path, LOG_ID, privateKey);
  try {
    writer.appendBatch(
      records.map((r, i) => ({
        seq: i + 1,
        leaf: toBinary(ExchangeRecordSchema, create(ExchangeRecordSchema, r)),
      })),
    );
    writer.signTreeHead();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    writer.close();
  }
  const reader = new LogIndexReader(path, LOG_ID);
  const keyBase64 = rawEd25519(publicKey).toString("base64");
  const checkpoints = checkpointSigner(LOG_ID, privateKey);
  return {
    vkey: checkpoints.vkey,
    reader,
    publicKey,
    privateKey,
    keyBase64,
    signedHead(o = {}) {
      const treeSize = o.treeSize ?? reader.treeSize;
      const h = {
        logId: o.logId ?? LOG_ID,
        treeSize,
        rootHash: o.rootHash ?? reader.tree.root(treeSize).toString("hex"),
        timestamp: o.timestamp ?? Date.now(),
      };
      return {
        log_id: h.logId,
        tree_size: h.treeSize,
        root_hash: h.rootHash,
        timestamp: h.timestamp,
        signature: sign(null, treeHeadSignedBytes(h), o.signer ?? privateKey).toString("base64"),
        public_key: o.publicKey ?? keyBase64,
      };
    },
    reviewApp: ({ token, logSecret, witnessPolicy }) =>
      createReviewApp({
        index: reader,
        logPublicKey: publicKey,
        checkpoints: indexCheckpoints(reader, checkpoints.checkpointOf),
        tokenHashes: [createHash("sha256").update(token).digest("hex")],
        logSecret,
        subjectIdPattern: /^[0-9]{11}$/,
        ...(witnessPolicy !== undefined && { witnessPolicy }),
      }),
    close() {
      reader.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An Ed25519 key of no log: what a server that rewrote the log could sign its tree heads with. */
export function rogueSigner(): { privateKey: KeyObject; keyBase64: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privateKey, keyBase64: rawEd25519(publicKey).toString("base64") };
}
