import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.js";
import { leafHash } from "../../core/merkle-hash.js";
import { NatsServer } from "../../core/nats-server.js";
import { Decision, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import { ensureLogStream, LOG_STREAM, LOG_SUBJECT } from "../log/jetstream-log.js";
import { REWRITTEN_OR_LOST } from "./indexer.js";
import { type IndexerThread, indexReadiness, startIndexerWorker } from "./indexer-thread.js";
import { LogIndexReader } from "./log-index.js";

/*
 * The indexer resuming on an index it built before, against a real nats-server: an honest restart
 * carries on; a stream replaced underneath it is refused. The stream is "rewritten" the way someone
 * with JetStream admin rights (or nats-server's store) could: deny_delete forbids deleting messages,
 * not the stream, so the test deletes the stream, recreates it as the broker does (ensureLogStream)
 * and publishes other records at the same sequences.
 */
const LOG_ID = "gov.bt/xbus-log-resume-test";
const { privateKey: logKey } = generateKeyPairSync("ed25519");
const dir = mkdtempSync(join(tmpdir(), "xbus-indexer-resume-"));
const indexPath = join(dir, "index.sqlite");
let nats: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await NatsServer.start();
  nc = await connect({ servers: nats.url });
  await ensureLogStream(nc);
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Publishes n records to the log stream, as the broker's log writer does; returns their leaves. */
async function publish(n: number, service = "dcrc.citizen-record"): Promise<Buffer[]> {
  const js = jetstream(nc);
  const leaves: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const exchangeId = randomUUID();
    const leaf = Buffer.from(
      toBinary(
        ExchangeRecordSchema,
        create(ExchangeRecordSchema, {
          exchangeId,
          time: BigInt(Date.now()),
          consumer: "spiffe://gov.bt/agency/moe/system/scholarships",
          service,
          purpose: "scholarship-eligibility",
          decision: Decision.ALLOW,
          status: "OK",
        }),
      ),
    );
    await js.publish(LOG_SUBJECT, leaf, { msgID: exchangeId });
    leaves.push(leaf);
  }
  return leaves;
}

/** Deletes the log stream and recreates it with n other records: sequences 1..n, other bytes. */
async function replaceStream(n: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(LOG_STREAM);
  await ensureLogStream(nc);
  await publish(n, "forged.service");
}

async function until<T>(what: string, f: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const hex = (b: Buffer) => leafHash(b).toString("hex");

describe("indexer resume check", () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({}, "debug", (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  const start = () =>
    startIndexerWorker({
      nats: nc,
      natsOptions: { servers: nats.url, name: "indexer-resume-test" },
      indexPath,
      logId: LOG_ID,
      logKey,
      logger: logger.child({ component: "indexer" }),
      treeHeadEveryMs: 50,
    });
  let indexer: IndexerThread | undefined;
  afterAll(async () => {
    await indexer?.stop();
  });
  const leaves: Buffer[] = [];

  it("an honest restart resumes where it stopped and indexes new entries", async () => {
    leaves.push(...(await publish(3)));
    indexer = await start();
    await until("3 entries", () => indexer?.index.treeSize === 3);
    await indexer.stop();

    leaves.push(...(await publish(2)));
    indexer = await start();
    expect(indexer.halted()).toBeUndefined();
    await until("5 entries", () => indexer?.index.treeSize === 5);
    await until("a head of size 5", () => indexer?.index.latestTreeHead()?.treeSize === 5);
    expect(indexer.running()).toBe(true);
    expect(await indexReadiness(indexer)).toEqual({ ok: true, detail: "0 entries behind the stream" });
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
    await indexer.stop();
  });

  it("a stream replaced underneath is refused: an error naming sequence and hashes, no new head, not ready", async () => {
    await replaceStream(7);
    const headsBefore = signedHeads().length;
    indexer = await start();

    const forged = await jetstreamManager(nc).then((jsm) => jsm.streams.getMessage(LOG_STREAM, { seq: 5 }));
    const error = lines.find((l) => l.level === "error" && l.msg === REWRITTEN_OR_LOST);
    expect(error).toMatchObject({
      component: "indexer",
      seq: 5,
      index_leaf_hash: hex(leaves[4] as Buffer),
      stream_leaf_hash: hex(Buffer.from(forged?.data ?? [])),
    });
    expect(indexer.running()).toBe(false);
    expect(indexer.halted()).toContain(`sequence 5: the index holds leaf hash ${hex(leaves[4] as Buffer)}`);
    const ready = await indexReadiness(indexer);
    expect(ready.ok).toBe(false);
    expect(ready.detail).toContain("2 entries behind the stream; the indexer is not running: sequence 5");
    expect(ready.detail).toContain(REWRITTEN_OR_LOST);

    // Several signing periods later: nothing indexed from the forged stream, no head signed over it.
    await new Promise((r) => setTimeout(r, 300));
    expect(indexer.index.treeSize).toBe(5);
    expect(indexer.index.indexedSeq).toBe(5);
    expect(signedHeads()).toHaveLength(headsBefore);
    await indexer.stop();
  });

  it("a stream that lost what the index holds is refused as well", async () => {
    await replaceStream(2);
    lines.length = 0;
    indexer = await start();
    expect(lines.find((l) => l.level === "error" && l.msg === REWRITTEN_OR_LOST)).toMatchObject({
      seq: 5,
      index_leaf_hash: hex(leaves[4] as Buffer),
      stream_leaf_hash: null,
    });
    expect(indexer.halted()).toContain("the stream no message there");
    expect((await indexReadiness(indexer)).ok).toBe(false);
    await indexer.stop();
  });

  /** The signed heads, read through a fresh read-only view (the indexer's may be closed). */
  function signedHeads() {
    const r = new LogIndexReader(indexPath, LOG_ID);
    try {
      return r.treeHeads();
    } finally {
      r.close();
    }
  }
});
