import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { Hono } from "hono";
import { createReviewApp, LogIndex, LogIndexReader } from "../../broker/index.js";
import { ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";

export type RecordInit = MessageInitShape<typeof ExchangeRecordSchema>;

export interface TestLogIndex {
  /** The index opened read-only, as the review API opens it. */
  readonly reader: LogIndexReader;
  /** Public half of the key that signed its tree head. */
  readonly publicKey: KeyObject;
  /** Its private half: for tests that sign other heads with it, as an insider holding the log's key could. */
  readonly privateKey: KeyObject;
  /** The review API over this index, taking `token` and turning citizen IDs into references with `logSecret`. */
  reviewApp(o: { token: string; logSecret: Uint8Array }): Hono;
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
  const writer = new LogIndex(path, "xbus-test-log", privateKey);
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
  const reader = new LogIndexReader(path, "xbus-test-log");
  return {
    reader,
    publicKey,
    privateKey,
    reviewApp: ({ token, logSecret }) =>
      createReviewApp({
        index: reader,
        logPublicKey: publicKey,
        tokenHashes: [createHash("sha256").update(token).digest("hex")],
        logSecret,
        subjectIdPattern: /^[0-9]{11}$/,
      }),
    close() {
      reader.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
