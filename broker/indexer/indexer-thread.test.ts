import { generateKeyPairSync, verify } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../core/index.js";
import { leafHash, treeHeadSignedBytes } from "../../core/log-format/index.js";
import { publishLogRecords, until, useLogStream } from "../../test/helpers/log-stream.js";
import { rootFromLeaves, verifyInclusion } from "../../verifier/index.js";
import { type IndexerThread, startIndexerWorker } from "./indexer-thread.js";
import { LogIndex, LogIndexReader } from "./log-index.js";

/*
 * The indexer in its worker thread against a real nats-server: this thread
 * only publishes to the log stream and reads the index read-only, so whatever
 * lands in the index (records, tree, signed heads) was written by the worker.
 */
const LOG_ID = "gov.bt/xbus-log-test";
const { privateKey: logKey, publicKey: logPublicKey } = generateKeyPairSync("ed25519");
const suite = useLogStream("xbus-indexer-thread-");

const leaves: Buffer[] = [];
/** Publishes n records to the log stream; returns their exchange ids. */
async function publish(n: number): Promise<string[]> {
  const published = await publishLogRecords(suite.nc, n);
  leaves.push(...published.map((p) => p.leaf));
  return published.map((p) => p.id);
}

/**
 * This process's OS threads: a worker thread (and its tsx loader thread) are among them while it runs.
 * Compared only across start or stop, as libuv's pool adds threads of its own once, on first use.
 */
const threads = () => readdirSync("/proc/self/task").length;

describe("indexer worker", () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({}, "debug", (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  const indexPath = join(suite.dir, "index.sqlite");
  let indexer: IndexerThread;

  it("builds the index in its own thread; this thread's read-only view follows it", async () => {
    await publish(3);
    const threadsBefore = threads();
    indexer = await startIndexerWorker({
      nats: suite.nc,
      natsOptions: { servers: suite.nats.url, name: "indexer-test" },
      indexPath,
      logId: LOG_ID,
      logKey,
      logger: logger.child({ component: "indexer" }),
      treeHeadEveryMs: 50,
    });
    expect(indexer.running()).toBe(true);
    expect(threads()).toBeGreaterThan(threadsBefore);
    const index = indexer.index;
    expect(index).toBeInstanceOf(LogIndexReader);
    expect(index).not.toBeInstanceOf(LogIndex);
    expect(index.db.readonly).toBe(true);

    // Sizes are read from the database on each call, so they grow as the worker commits.
    await until("3 entries", () => index.treeSize === 3);
    const ids = await publish(4);
    await until("7 entries", () => index.treeSize === 7);
    expect(index.indexedSeq).toBe(7);
    expect(await indexer.lag()).toBe(0);
    const entry = index.exchange(ids[3] ?? "");
    expect(entry?.index).toBe(6);
    expect(entry?.record?.exchangeId).toBe(ids[3]);
    expect(index.exchanges({ limit: 100 }).map((e) => e.index)).toEqual([6, 5, 4, 3, 2, 1, 0]);

    // The worker signed a head for the new size with the log's key; proofs up to it verify here.
    const head = await until("a tree head of size 7", () => {
      const h = index.latestTreeHead();
      return h && h.treeSize === 7 ? h : undefined;
    });
    expect(verify(null, treeHeadSignedBytes(head), logPublicKey, Buffer.from(head.signature, "base64"))).toBe(
      true,
    );
    expect(head.rootHash).toBe(rootFromLeaves(leaves).toString("hex"));
    expect(index.tree.root(7).toString("hex")).toBe(head.rootHash);
    const path = index.tree.inclusionProof(6, 7);
    expect(
      verifyInclusion(6, 7, leafHash(leaves[6] ?? Buffer.alloc(0)), path, Buffer.from(head.rootHash, "hex")),
    ).toBe(true);

    // The reader never writes.
    expect(() => index.tree.append(leafHash(Buffer.from("x")))).toThrow(/read-only/);

    // The worker's log lines come out of this thread's logger.
    await until("the worker's log line", () =>
      lines.some((l) => l.component === "indexer" && l.msg === "tree head signed" && l.tree_size === 7),
    );
  });

  it("stop() signs the last head, closes the index and ends the thread", async () => {
    await publish(2);
    await until("9 entries", () => indexer.index.treeSize === 9);
    const threadsRunning = threads();
    await indexer.stop();
    expect(indexer.running()).toBe(false);
    expect(indexer.index.db.open).toBe(false);
    expect(threads()).toBeLessThan(threadsRunning);
    // Stopped: everything indexed is covered by a signed head (stop() signs one if the timer has not).
    const db = new LogIndexReader(indexPath, LOG_ID);
    expect(db.treeSize).toBe(9);
    expect(db.latestTreeHead()?.treeSize).toBe(9);
    db.close();
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
  });

  it("resumes where it stopped, and a crash of the worker is logged as an error", async () => {
    lines.length = 0;
    indexer = await startIndexerWorker({
      nats: suite.nc,
      natsOptions: { servers: suite.nats.url },
      indexPath,
      logId: LOG_ID,
      logKey,
      logger: logger.child({ component: "indexer" }),
      treeHeadEveryMs: 50,
    });
    await publish(1);
    await until("10 entries", () => indexer.index.treeSize === 10);
    // Break the index under the worker: its next tree head cannot be stored, the thread dies.
    const vandal = new Database(indexPath);
    vandal.exec("DROP TABLE tree_heads");
    vandal.close();
    await publish(1);
    await until("the worker to end", () => !indexer.running());
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: "error",
        component: "indexer",
        msg: expect.stringContaining("indexer worker crashed"),
        err: expect.objectContaining({ message: expect.stringContaining("tree_heads") }),
      }),
    );
    // The lag still answers, and shows the entry nobody indexes.
    await publish(1);
    expect(await indexer.lag()).toBeGreaterThanOrEqual(1);
    await indexer.stop();
    expect(indexer.index.db.open).toBe(false);
  });

  it("fails to start, rather than starting half, when its NATS is unreachable", async () => {
    const start = startIndexerWorker({
      nats: suite.nc,
      natsOptions: { servers: "nats://127.0.0.1:1", maxReconnectAttempts: 0, reconnect: false },
      indexPath: join(suite.dir, "other.sqlite"),
      logId: LOG_ID,
      logKey,
      logger: logger.child({ component: "indexer" }),
    });
    await expect(start).rejects.toThrow(/connection refused/);
  });

  it("refuses a TLS identity in its plain options, where a renewal could not reach it", async () => {
    const start = startIndexerWorker({
      nats: suite.nc,
      natsOptions: {
        servers: "nats://127.0.0.1:1",
        tls: { certFile: "indexer.pem", keyFile: "indexer-key.pem" },
      },
      indexPath: join(suite.dir, "other.sqlite"),
      logId: LOG_ID,
      logKey,
      logger: logger.child({ component: "indexer" }),
    });
    await expect(start).rejects.toThrow("give the NATS identity as natsTls, not natsOptions.tls");
  });
});
