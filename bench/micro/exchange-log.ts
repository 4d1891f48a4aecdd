import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import Database from "better-sqlite3";
import type { ExchangeOutcome } from "../../broker/exchange/outcome.js";
import { MerkleStore } from "../../broker/indexer/merkle-store.js";
import { readTile } from "../../broker/indexer/tile-reader.js";
import { openExchangeLog } from "../../broker/log/jetstream-log.js";
import { createLogger, uuidv7 } from "../../core/index.js";
import { leafHash, tilePath } from "../../core/log-format/index.js";
import { NatsServer } from "../../stack/index.js";
import { TileHashes } from "../../verifier/index.js";
import type { MicroBenchmark } from "./registry.js";

/*
 * The exchange log: its Merkle tree at a million leaves (SQLite in WAL mode, as
 * the indexer keeps it), its inclusion proofs from SQLite and from C2SP hash
 * tiles (what a monitor computes from GET /tile/…), and appends to the JetStream
 * stream with many in flight, as the broker makes them. Building the
 * million-leaf tree takes ~15 s of set-up, outside the measurement.
 */
const LEAVES = 1_000_000;
const BATCH = 512; // the indexer's batch: one transaction per 512 appends
const IN_FLIGHT = 256;

type Tree = ReturnType<typeof buildTree>;
let shared: Tree | undefined;

/**
 * The million-leaf tree, built once and shared by the tree benchmarks (they run in
 * this file's order: append, proof, proof from tiles, tile read, whose close removes it).
 */
function millionLeafTree(): Tree {
  shared ??= buildTree();
  return shared;
}

/** A temp SQLite file in WAL mode with a tree of LEAVES leaves. */
function buildTree() {
  const dir = mkdtempSync(join(tmpdir(), "xbus-micro-merkle-"));
  const db = new Database(join(dir, "tree.sqlite"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  const store = new MerkleStore(db);
  let next = 0;
  const leaf = () => leafHash(Buffer.from(`leaf ${next++}`));
  const appendBatch = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) store.append(leaf());
  });
  while (store.treeSize < LEAVES) appendBatch(Math.min(10_000, LEAVES - store.treeSize));
  return {
    db,
    store,
    appendBatch,
    close() {
      shared = undefined;
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function outcome(): ExchangeOutcome {
  return {
    exchangeId: uuidv7(),
    startedAt: Date.now(),
    consumer: "spiffe://gov.bt/agency/moe/system/scholarships",
    certSerial: "0A1B2C3D",
    service: "dcrc.citizen-record",
    subjectId: "10000000001",
    purpose: "scholarship-eligibility",
    consentId: "",
    requestId: "",
    decision: "allow",
    matchedGrants: ["moe-scholarships-citizen-record"],
    bundleHash: "a".repeat(64),
    fieldsRequested: [],
    fieldsReleased: ["citizen_id", "name", "date_of_birth"],
    fieldsWithheld: [],
    status: "OK",
    reasonText: "",
    requestHash: "b".repeat(64),
    responseHash: "c".repeat(64),
    traceId: "",
    latencyMs: 1.5,
  };
}

export const benchmarks: MicroBenchmark[] = [
  {
    name: `Merkle tree: append at ${LEAVES / 1e6}M leaves (SQLite WAL, ${BATCH} per transaction)`,
    setup() {
      const t = millionLeafTree();
      return {
        run() {
          t.appendBatch(BATCH);
          return BATCH;
        },
      };
    },
  },
  {
    name: `Merkle tree: inclusion proof at ${LEAVES / 1e6}M leaves`,
    setup() {
      const t = millionLeafTree();
      const size = t.store.treeSize;
      const maxPath = Math.ceil(Math.log2(size));
      let i = 0;
      return {
        run() {
          // Spread over the tree: different paths, different pages.
          i = (i + 7_919) % size;
          const n = t.store.inclusionProof(i, size).length;
          if (n === 0 || n > maxPath) throw new Error(`unexpected proof length ${n}`);
          return 1;
        },
      };
    },
  },
  {
    name: `Merkle tree: inclusion proof from hash tiles at ${LEAVES / 1e6}M leaves (tiles cached as a client keeps them)`,
    setup() {
      const t = millionLeafTree();
      const size = t.store.treeSize;
      // A client's cache: each tile read from the store once (what GET /tile/… serves), then kept.
      const cache = new Map<string, Buffer>();
      const tiles = new TileHashes(size, (tile) => {
        const path = tilePath(tile);
        let data = cache.get(path);
        if (!data) {
          data = readTile(t.store, size, tile);
          if (data) cache.set(path, data);
        }
        return data;
      });
      // Every tile of the tree read once, untimed: the measurement is of a client whose cache is warm.
      for (let i = 0; i < size; i += 256) tiles.node(0, i);
      for (let i = 0; i < size / 256; i += 256) tiles.node(8, i);
      const sample = tiles.inclusionProof(12_345);
      if (!Buffer.concat(sample).equals(Buffer.concat(t.store.inclusionProof(12_345, size))))
        throw new Error("the proof from tiles is not the store's");
      let i = 0;
      return {
        run() {
          i = (i + 7_919) % size;
          tiles.inclusionProof(i);
          return 1;
        },
      };
    },
  },
  {
    name: `Merkle tree: full hash tile read at ${LEAVES / 1e6}M leaves (what GET /tile/0/<N> serves)`,
    setup() {
      const t = millionLeafTree();
      const size = t.store.treeSize;
      const full = Math.floor(size / 256);
      let n = 0;
      return {
        run() {
          n = (n + 7_919) % full;
          if (readTile(t.store, size, { level: 0, index: n, width: 256 })?.length !== 8192)
            throw new Error(`tile ${n} is not a full tile`);
          return 1;
        },
        close: () => t.close(),
      };
    },
  },
  {
    name: `exchange log: append + durable ack, ${IN_FLIGHT} in flight (JetStream file storage, signed receipt)`,
    async setup() {
      const nats = await NatsServer.start();
      const nc = await connect({ servers: nats.url, noAsyncTraces: true });
      const log = await openExchangeLog({
        nats: nc,
        logId: "bench/xbus-log",
        brokerId: "bench",
        logSecret: randomBytes(32),
        signingKey: generateKeyPairSync("ed25519").privateKey,
        logger: createLogger({ bench: "micro" }, "warn"),
      });
      return {
        async run() {
          await Promise.all(Array.from({ length: IN_FLIGHT }, () => log.record(outcome())));
          return IN_FLIGHT;
        },
        async close() {
          await nc.close();
          await nats.dispose();
        },
      };
    },
  },
];
