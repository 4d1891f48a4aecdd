import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/index.js";
import { leafHash } from "../../core/log-format/index.js";
import { publishLogRecords, until, useLogStream } from "../../test/helpers/log-stream.js";
import { ensureLogStream, LOG_STREAM } from "../log/jetstream-log.js";
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
const suite = useLogStream("xbus-indexer-resume-");
const indexPath = join(suite.dir, "index.sqlite");

/** Publishes n records to the log stream; returns their leaves. */
async function publish(n: number, service?: string): Promise<Buffer[]> {
  return (await publishLogRecords(suite.nc, n, service)).map((p) => p.leaf);
}

/** Deletes the log stream and recreates it with n other records: sequences 1..n, other bytes. */
async function replaceStream(n: number): Promise<void> {
  const jsm = await jetstreamManager(suite.nc);
  await jsm.streams.delete(LOG_STREAM);
  await ensureLogStream(suite.nc);
  await publish(n, "forged.service");
}

const hex = (b: Buffer) => leafHash(b).toString("hex");

describe("indexer resume check", () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({}, "debug", (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  const start = () =>
    startIndexerWorker({
      nats: suite.nc,
      natsOptions: { servers: suite.nats.url, name: "indexer-resume-test" },
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

    const forged = await jetstreamManager(suite.nc).then((jsm) =>
      jsm.streams.getMessage(LOG_STREAM, { seq: 5 }),
    );
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
