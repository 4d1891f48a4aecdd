import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ensureLogStream, type Indexer, LOG_STREAM, LogIndex, startIndexer } from "../../broker/index.js";
import { createLogger } from "../../core/index.js";
import { eventually, startTestCluster, type TestCluster, waitForJetStream } from "../helpers/cluster.js";
import { publishLogRecords, until } from "../helpers/log-stream.js";

/*
 * The indexer reads XBUS_LOG (R3) through an ordered consumer, which lives on one core node. When that
 * node dies, nats.js alone would ask the dead node about the consumer, time out, and retry every 30 s
 * without making a new one, so the index (and every signed head) stood still until the node returned
 * (`npm run faults -- --target cluster`, row core-kill-indexer). The indexer now replaces a consumer
 * whose heartbeats stop: with the node still down, it indexes what is appended after the kill.
 */
let t: TestCluster;
let admin: NatsConnection;
let nc: NatsConnection;
let index: LogIndex;
let indexer: Indexer | undefined;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  t = await startTestCluster();
  admin = await t.connect(t.admin, t.cluster.urls, "admin");
  await waitForJetStream(admin);
  await ensureLogStream(admin, 3);
  nc = await t.connect(t.broker, t.cluster.urls, "xbus-indexer-test");
  const { privateKey } = generateKeyPairSync("ed25519");
  index = new LogIndex(join(t.dir, "index.sqlite"), "gov.bt/xbus-log-failover-test", privateKey);
}, 120_000);

afterAll(async () => {
  await indexer?.stop();
  await nc?.close();
  await admin?.close();
  await t?.dispose();
});

it("indexes on when the core node serving its consumer is killed, without waiting for the node", async () => {
  const logger = createLogger({}, "debug", (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  indexer = await startIndexer({ nats: nc, index, logger, treeHeadEveryMs: 200 });
  await publishLogRecords(nc, 3);
  await until("3 entries indexed", () => index.indexedSeq === 3, 30_000);

  const jsm = await jetstreamManager(admin);
  const homes: string[] = [];
  for await (const c of jsm.consumers.list(LOG_STREAM)) if (c.cluster?.leader) homes.push(c.cluster.leader);
  expect(homes).toHaveLength(1);
  const home = t.cluster.nodes[Number(homes[0]?.replace(/^xbus-n/, "")) - 1];
  expect(home?.running).toBe(true);
  await home?.kill();

  // Two nodes are a quorum: appends go on (after an election, if the dead node led the stream).
  await eventually(() => publishLogRecords(nc, 3), 60_000);
  await until("6 entries indexed with the consumer's node down", () => index.indexedSeq >= 6, 90_000);
  expect(home?.running).toBe(false);
  expect(lines.some((l) => String(l.msg).includes("consumer went silent"))).toBe(true);
  // The signed head followed the index.
  await until("a head of 6", () => (index.latestTreeHead()?.treeSize ?? 0) >= 6, 10_000);
}, 240_000);
