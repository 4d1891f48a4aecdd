import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { LOG_STREAM, LogIndex } from "../../broker/index.js";
import { type HeadLock, openHeadLock } from "../../broker/indexer/head-lock.js";
import { type HeadPublisher, headPublisher } from "../../broker/indexer/head-publisher.js";
import type { TreeHead } from "../../broker/indexer/head-signer.js";
import { signerLease } from "../../broker/indexer/signer-lease.js";
import { createLogger } from "../../core/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import { proveGrowth, type TreeHeadJson, treeHeadProblem } from "../../verifier/index.js";
import { publishLogRecords, useLogStream } from "../helpers/log-stream.js";

/*
 * Exactly one signer (README, "Log service"): the last signed head lives in a JetStream KV key and a
 * head is published only by compare-and-swap on its revision. Signing rounds are driven by hand here,
 * each signer with its own index, NATS connection and clock, so the bad interleavings happen every run:
 * a signer paused between its proof and its swap while another takes the lease over; a restored
 * instance whose index was rewritten; one that lags behind the last head. Afterwards every head the
 * key ever held is checked with the verifier: signed by the log's key, and extending the one before.
 */
const LOG_ID = "gov.bt/xbus-log-signer-test";
const { privateKey: logKey, publicKey } = generateKeyPairSync("ed25519");
const LEASE_MS = 1000;
const suite = useLogStream("xbus-single-signer-");
const logger = createLogger({}, "warn", () => {});

interface Signer {
  name: string;
  index: LogIndex;
  nc: NatsConnection;
  lock: HeadLock;
  publisher: HeadPublisher;
  /** This signer's clock, moved by the test. */
  clock: { t: number };
  halted: string[];
  /** Set to pause the next round just before its compare-and-swap. */
  pause?: { reached: () => void; resume: Promise<void> };
}

const signers: Signer[] = [];

async function signer(name: string, leaves?: (leaf: Buffer, i: number) => Buffer): Promise<Signer> {
  const nc = await connect({ servers: suite.nats.url, name });
  const index = new LogIndex(join(suite.dir, `${name}.sqlite`), LOG_ID, logKey);
  const lock = await openHeadLock({ nats: nc, logId: LOG_ID, publicKey });
  const clock = { t: 0 };
  const s = { name, index, nc, lock, clock, halted: [] } as unknown as Signer;
  s.publisher = headPublisher({
    index,
    lock,
    lease: signerLease({ kv: lock.kv, holder: name, leaseMs: LEASE_MS, now: () => clock.t }),
    logKey,
    logger,
    onHalt: (r) => s.halted.push(r),
    beforePublish: async () => {
      const p = s.pause;
      if (!p) return;
      s.pause = undefined;
      p.reached();
      await p.resume;
    },
  });
  s.index = index;
  await catchUp(s, undefined, leaves);
  signers.push(s);
  return s;
}

/** Indexes the stream's messages up to `upTo` (default: all), through `alter` if given (a rewritten index). */
async function catchUp(s: Signer, upTo?: number, alter?: (leaf: Buffer, i: number) => Buffer): Promise<void> {
  const jsm = await jetstreamManager(s.nc);
  const last = upTo ?? (await jsm.streams.info(LOG_STREAM)).state.last_seq;
  const items: { seq: number; leaf: Uint8Array }[] = [];
  for (let seq = s.index.indexedSeq + 1; seq <= last; seq++) {
    const m = await jsm.streams.getMessage(LOG_STREAM, { seq });
    const leaf = Buffer.from(m?.data ?? []);
    items.push({ seq, leaf: alter ? alter(leaf, seq - 1) : leaf });
  }
  if (items.length > 0) s.index.appendBatch(items);
}

/** Every head the KV key held, oldest first. */
async function publishedHeads(lock: HeadLock): Promise<TreeHeadJson[]> {
  const heads: TreeHeadJson[] = [];
  for await (const e of await lock.kv.history({ key: "head" }))
    if (e.operation === "PUT") heads.push(JSON.parse(e.string()) as TreeHeadJson);
  return heads;
}

const latest = async (lock: HeadLock) => (await lock.last())?.head;

afterAll(async () => {
  for (const s of signers) {
    s.index.close();
    await s.nc.close();
  }
});

describe("one signer through the KV lock", () => {
  let a: Signer;
  let b: Signer;

  it("the first signer takes the lease and publishes; a second one stands by and serves that head", async () => {
    await publishLogRecords(suite.nc, 3);
    a = await signer("a");
    b = await signer("b");
    await a.publisher.round();
    expect(a.publisher.role).toBe("active");
    expect((await latest(a.lock))?.treeSize).toBe(3);
    await b.publisher.round();
    expect(b.publisher.role).toBe("standby");
    // The standby keeps the head the active one signed, so its review API serves it.
    expect(b.index.latestTreeHead()).toEqual(await latest(a.lock));
  });

  it("a signer paused before its swap while another takes over never publishes its head", async () => {
    await publishLogRecords(suite.nc, 2);
    await catchUp(a);
    await catchUp(b);
    let reached!: () => void;
    const atSwap = new Promise<void>((r) => {
      reached = r;
    });
    let resume!: () => void;
    a.pause = { reached, resume: new Promise<void>((r) => (resume = r)) };
    // a renews its lease, proves size 5 extends size 3, signs it, and stops just before the swap.
    const aRound = a.publisher.round();
    await atSwap;
    // Meanwhile a's lease lapses on b's clock (b sees its revision unchanged for the lease's length).
    await b.publisher.round();
    b.clock.t += LEASE_MS + 1;
    await publishLogRecords(suite.nc, 1);
    await catchUp(b);
    await b.publisher.round();
    expect(b.publisher.role).toBe("active");
    const bHead = await latest(b.lock);
    expect(bHead?.treeSize).toBe(6);
    // a wakes up: its swap names a revision the key has moved past, so its head of size 5 is dropped.
    resume();
    await aRound;
    expect(a.publisher.role).toBe("standby");
    expect(await latest(a.lock)).toEqual(bHead);
    expect((await publishedHeads(a.lock)).map((h) => h.tree_size)).toEqual([3, 6]);
    // Once a has indexed as far, it serves b's head.
    await catchUp(a);
    await a.publisher.round();
    expect(a.index.latestTreeHead()).toEqual(bHead);
  });

  it("a restored instance whose index was rewritten halts instead of signing", async () => {
    // Its index holds the stream's leaves with the second one changed: its tree is another tree.
    const c = await signer("c", (leaf, i) => (i === 1 ? Buffer.concat([leaf, Buffer.from([0])]) : leaf));
    await b.publisher.release();
    await publishLogRecords(suite.nc, 2);
    await catchUp(c);
    await c.publisher.round();
    expect(c.halted).toHaveLength(1);
    expect(c.halted[0]).toMatch(/is not of this index's tree.*rewritten/);
    expect((await latest(c.lock))?.treeSize).toBe(6);
  });

  it("a lagging instance neither takes the lease nor publishes until its index extends the last head", async () => {
    const d = await signer("d");
    // d has indexed everything but will see the stream only up to where it stood before: rebuild it short.
    d.index.close();
    const short = new LogIndex(join(suite.dir, "d-short.sqlite"), LOG_ID, logKey);
    d.index = short;
    const lagging = headPublisher({
      index: short,
      lock: d.lock,
      lease: signerLease({ kv: d.lock.kv, holder: "d", leaseMs: LEASE_MS, now: () => d.clock.t }),
      logKey,
      logger,
      onHalt: (r) => d.halted.push(r),
    });
    await catchUp(d, 4);
    // b let the lease go (the test before), but d's tree of 4 is behind the head of 6: it leaves the lease.
    await lagging.round();
    expect(lagging.role).toBe("standby");
    expect((await latest(d.lock))?.treeSize).toBe(6);
    expect(short.latestTreeHead()).toBeUndefined();
    await catchUp(d);
    await lagging.round();
    expect(lagging.role).toBe("active");
    expect((await latest(d.lock))?.treeSize).toBe(8);
    expect(d.halted).toEqual([]);
  });

  it("every head the key ever held is signed by the log's key and extends the one before (verifier)", async () => {
    const heads = await publishedHeads(a.lock);
    expect(heads.map((h) => h.tree_size)).toEqual([3, 6, 8]);
    const key = rawEd25519(createPublicKey(logKey)).toString("base64");
    await catchUp(a);
    const proofs = async (first: number, second: number) => ({
      first,
      second,
      proof: a.index.tree.consistencyProof(first, second).map((h) => h.toString("hex")),
    });
    for (const [i, h] of heads.entries()) {
      expect(treeHeadProblem(h, `head ${i}`, { key: { value: key, from: "the log's key" } })).toBeUndefined();
      const before = heads[i - 1];
      if (!before) continue;
      const growth = await proveGrowth(proofs, {
        earlier: before,
        later: h,
        earlierName: `head ${i - 1}`,
        laterName: `head ${i}`,
      });
      expect(growth).toEqual({ ok: true, how: "extends" });
    }
  });

  it("a lock holding a head of another key stops a signer, naming both", async () => {
    const other = generateKeyPairSync("ed25519");
    const e = await signer("e");
    const foreign = headPublisher({
      index: e.index,
      lock: await openHeadLock({ nats: e.nc, logId: LOG_ID, publicKey: other.publicKey }),
      lease: signerLease({ kv: e.lock.kv, holder: "e", leaseMs: LEASE_MS }),
      logKey: other.privateKey,
      logger,
      onHalt: (r) => e.halted.push(r),
    });
    await foreign.round();
    expect(e.halted[0]).toMatch(/names public key .* but this signer's key is/);
    const unchanged: TreeHead | undefined = await latest(e.lock);
    expect(unchanged?.treeSize).toBe(8);
  });
});
