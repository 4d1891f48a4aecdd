import type { KeyObject } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import Database from "better-sqlite3";
import { leafHash } from "../../core/log-format/index.js";
import { Decision, type ExchangeRecord, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import { signHead, type TreeHead } from "./head-signer.js";
import { MerkleStore } from "./merkle-store.js";

export type { TreeHead } from "./head-signer.js";

export interface IndexedEntry {
  index: number;
  leaf: Buffer;
  record: ExchangeRecord | undefined;
}

export interface ExchangeFilter {
  consumer?: string;
  /** Consumers of this agency (a checked agency name: lowercase letters, digits and dashes only). */
  agency?: string;
  service?: string;
  subjectRef?: string;
  purpose?: string;
  decision?: "allow" | "deny" | "invalid" | "error";
  /** Milliseconds since the epoch, inclusive. */
  from?: number;
  /** Milliseconds since the epoch, exclusive. */
  to?: number;
  /** Return entries with index below this (paging newest first). */
  before?: number;
  /**
   * Only entries a citizen may see at this instant (ms since the epoch): those whose delayed disclosure
   * (ExchangeRecord.disclose_after) has passed or that have none. Absent: every entry (reviewers).
   */
  visibleAt?: number;
  limit: number;
}

/** How many exchanges of one consumer, with one decision, fell in one bucket of time. */
export interface ExchangeCount {
  bucket: number;
  consumer: string;
  decision: string;
  count: number;
}

/** An entry's subject reference and the end of its delayed disclosure (0: none). */
export interface Visibility {
  index: number;
  subjectRef: string;
  discloseAfter: number;
}

/** Embargoed exchanges of one consumer agency that become visible on one UTC day. */
export interface EmbargoRelease {
  /** The consumer's SPIFFE ID as logged. */
  consumer: string;
  /** How many of its exchanges are still hidden from their citizens and are released that day. */
  count: number;
  /** The first and last instant of release among them (ms since the epoch). */
  first: number;
  last: number;
}

/** An exchange's indexed columns only, without decoding its leaf: what the alert rules read. */
export interface ExchangeFact {
  index: number;
  exchangeId: string;
  /** Milliseconds since the epoch. */
  time: number;
  consumer: string;
  service: string;
  subjectRef: string;
  decision: string;
}

const DECISION_NAME: Record<number, string> = {
  [Decision.ALLOW]: "allow",
  [Decision.DENY]: "deny",
  [Decision.INVALID]: "invalid",
  [Decision.ERROR]: "error",
};

/**
 * The exchange log's index: the records' queryable columns and the Merkle
 * tree, in SQLite (WAL). It is derived data: `xbus log reindex` rebuilds it from
 * the JetStream stream, which stays the truth.
 *
 * This is the read side: opened from a path it is a read-only connection
 * (`readonly`, the file must exist) beside the writer (`LogIndex`, in the indexer
 * worker), and every size it reports comes from the database at the time of the
 * call, never from a copy that the writer has since outgrown.
 */
export class LogIndexReader {
  readonly db: Database.Database;
  readonly tree: MerkleStore;
  private readonly getMeta: Database.Statement<[string], { value: string }>;

  /** A path opens the index read-only; `LogIndex` passes its own writable connection. */
  constructor(
    source: string | Database.Database,
    readonly logId: string,
  ) {
    this.db =
      typeof source === "string" ? new Database(source, { readonly: true, fileMustExist: true }) : source;
    this.tree = new MerkleStore(this.db);
    this.getMeta = this.db.prepare("SELECT value FROM meta WHERE key = ?");
  }

  /** The stream sequence of the last indexed entry (0 when empty). */
  get indexedSeq(): number {
    return Number(this.getMeta.get("indexed_seq")?.value ?? "0");
  }

  get treeSize(): number {
    return this.tree.treeSize;
  }

  latestTreeHead(): TreeHead | undefined {
    const row = this.db.prepare("SELECT * FROM tree_heads ORDER BY tree_size DESC LIMIT 1").get() as
      | { tree_size: number; root_hash: string; timestamp: number; signature: string }
      | undefined;
    return (
      row && {
        logId: this.logId,
        treeSize: row.tree_size,
        rootHash: row.root_hash,
        timestamp: row.timestamp,
        signature: row.signature,
      }
    );
  }

  treeHeads(): TreeHead[] {
    const rows = this.db.prepare("SELECT * FROM tree_heads ORDER BY tree_size").all() as {
      tree_size: number;
      root_hash: string;
      timestamp: number;
      signature: string;
    }[];
    return rows.map((r) => ({
      logId: this.logId,
      treeSize: r.tree_size,
      rootHash: r.root_hash,
      timestamp: r.timestamp,
      signature: r.signature,
    }));
  }

  entries(start: number, limit: number): IndexedEntry[] {
    const rows = this.db
      .prepare("SELECT idx, leaf FROM entries WHERE idx >= ? ORDER BY idx LIMIT ?")
      .all(start, limit) as {
      idx: number;
      leaf: Buffer;
    }[];
    return rows.map((r) => ({ index: r.idx, leaf: r.leaf, record: decodeOrUndefined(r.leaf) }));
  }

  /** Newest first. Filters are bound parameters; column names come from this fixed list only. */
  exchanges(f: ExchangeFilter): IndexedEntry[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const eq = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      args.push(value);
    };
    eq("consumer", f.consumer);
    if (f.agency !== undefined) {
      if (!/^[a-z][a-z0-9-]*$/.test(f.agency)) throw new Error("agency must be an agency name");
      // `_` and `%` cannot occur in an agency name, so the pattern matches that path segment only.
      where.push("consumer LIKE ?");
      args.push(`spiffe://%/agency/${f.agency}/%`);
    }
    eq("service", f.service);
    eq("subject_ref", f.subjectRef);
    eq("purpose", f.purpose);
    eq("decision", f.decision);
    if (f.from !== undefined) {
      where.push("time >= ?");
      args.push(f.from);
    }
    if (f.to !== undefined) {
      where.push("time < ?");
      args.push(f.to);
    }
    if (f.before !== undefined) {
      where.push("idx < ?");
      args.push(f.before);
    }
    if (f.visibleAt !== undefined) {
      where.push("disclose_after <= ?");
      args.push(f.visibleAt);
    }
    const sql = `SELECT idx, leaf FROM entries ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY idx DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, f.limit) as { idx: number; leaf: Buffer }[];
    return rows.map((r) => ({ index: r.idx, leaf: r.leaf, record: decodeOrUndefined(r.leaf) }));
  }

  /**
   * The time of the exchange that comes after the first `count` in [from, to) in time order, or
   * undefined when the window holds no more than `count`: where a bounded scan has to stop. Reads the
   * time index only.
   */
  timeAfter(from: number, to: number, count: number): number | undefined {
    const row = this.db
      .prepare("SELECT time FROM entries WHERE time >= ? AND time < ? ORDER BY time, idx LIMIT 1 OFFSET ?")
      .get(from, to, count) as { time: number } | undefined;
    return row?.time;
  }

  /** Exchanges in [from, to) in time order (then log order), at most `limit`, read lazily. */
  exchangeFacts(from: number, to: number, limit: number): IterableIterator<ExchangeFact> {
    return this.db
      .prepare(
        `SELECT idx AS "index", exchange_id AS exchangeId, time, consumer, service, subject_ref AS subjectRef, decision
         FROM entries WHERE time >= ? AND time < ? ORDER BY time, idx LIMIT ?`,
      )
      .iterate(from, to, limit) as IterableIterator<ExchangeFact>;
  }

  /**
   * What oversight sees of delayed disclosure: the exchanges still hidden from their citizens at `now`,
   * counted per consumer and UTC day of release, soonest first. Never filtered: reviewers see them all.
   */
  embargoes(now: number): EmbargoRelease[] {
    return this.db
      .prepare(
        `SELECT consumer, COUNT(*) AS count, MIN(disclose_after) AS first, MAX(disclose_after) AS last
         FROM entries WHERE disclose_after > 0 AND disclose_after > ?
         GROUP BY consumer, disclose_after / 86400000 ORDER BY first, consumer`,
      )
      .all(now) as EmbargoRelease[];
  }

  /**
   * Who each entry is about and when its citizen may see it, from index `start` on in log order, at
   * most `limit`: what the citizen notifier reads of new entries, without decoding a leaf.
   */
  visibility(start: number, limit: number): Visibility[] {
    return this.db
      .prepare(
        `SELECT idx AS "index", subject_ref AS subjectRef, disclose_after AS discloseAfter
         FROM entries WHERE idx >= ? ORDER BY idx LIMIT ?`,
      )
      .all(start, limit) as Visibility[];
  }

  /** Entries below index `before` whose delayed disclosure ends in (after, upTo], soonest first, at most `limit`. */
  disclosedBetween(after: number, upTo: number, before: number, limit: number): Visibility[] {
    return this.db
      .prepare(
        `SELECT idx AS "index", subject_ref AS subjectRef, disclose_after AS discloseAfter
         FROM entries WHERE disclose_after > 0 AND disclose_after > ? AND disclose_after <= ? AND idx < ?
         ORDER BY disclose_after, idx LIMIT ?`,
      )
      .all(after, upTo, before, limit) as Visibility[];
  }

  /**
   * Exchanges in [from, to) counted per bucket of `bucketMs` (bucket = (time − from) / bucketMs),
   * consumer and decision: the charts' series, aggregated by SQLite over the time index.
   */
  exchangeCounts(from: number, to: number, bucketMs: number): ExchangeCount[] {
    return this.db
      .prepare(
        // Bound as integers: better-sqlite3 binds a JS number as REAL, and REAL division splits buckets.
        `SELECT (time - CAST(? AS INTEGER)) / CAST(? AS INTEGER) AS bucket, consumer, decision, COUNT(*) AS count
         FROM entries WHERE time >= ? AND time < ? GROUP BY bucket, consumer, decision`,
      )
      .all(from, bucketMs, from, to) as ExchangeCount[];
  }

  exchange(exchangeId: string): IndexedEntry | undefined {
    const row = this.db
      .prepare("SELECT idx, leaf FROM entries WHERE exchange_id = ? ORDER BY idx LIMIT 1")
      .get(exchangeId) as { idx: number; leaf: Buffer } | undefined;
    return row && { index: row.idx, leaf: row.leaf, record: decodeOrUndefined(row.leaf) };
  }

  close(): void {
    this.db.close();
  }
}

/**
 * The writer of the index (one per file: the indexer, or `xbus log reindex`):
 * creates the schema, appends stream messages and signs tree heads.
 */
export class LogIndex extends LogIndexReader {
  private readonly insert: Database.Statement;
  private readonly setMeta: Database.Statement<[string, string]>;
  private readonly insertHead: Database.Statement;
  private readonly batchTx: (items: readonly { seq: number; leaf: Uint8Array }[]) => void;

  constructor(
    path: string,
    logId: string,
    private readonly logKey: KeyObject,
  ) {
    super(openWritable(path), logId);
    this.insert = this.db.prepare(
      "INSERT INTO entries (idx, exchange_id, time, consumer, service, subject_ref, purpose, decision, status, leaf, disclose_after) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    );
    this.setMeta = this.db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    );
    this.insertHead = this.db.prepare(
      "INSERT OR REPLACE INTO tree_heads (tree_size, root_hash, timestamp, signature) VALUES (?, ?, ?, ?)",
    );
    this.batchTx = this.db.transaction((items: readonly { seq: number; leaf: Uint8Array }[]) => {
      for (const { seq, leaf } of items) this.appendOne(seq, leaf);
      const last = items.at(-1);
      if (last) this.setMeta.run("indexed_seq", String(last.seq));
    });
  }

  /**
   * Appends stream messages in order, atomically. Leaf index = stream sequence − 1;
   * a gap or a repeat means the stream and the index disagree, and nothing is written.
   */
  appendBatch(items: readonly { seq: number; leaf: Uint8Array }[]): void {
    try {
      this.batchTx(items);
    } catch (err) {
      this.tree.reload();
      throw err;
    }
  }

  private appendOne(seq: number, leaf: Uint8Array): void {
    const index = this.tree.treeSize;
    if (seq !== index + 1)
      throw new Error(`log stream sequence ${seq} does not follow the index (expected ${index + 1})`);
    let record: ExchangeRecord | undefined;
    try {
      record = fromBinary(ExchangeRecordSchema, leaf);
    } catch {
      record = undefined; // still a leaf: the tree covers every byte the stream holds
    }
    this.insert.run(
      index,
      record?.exchangeId ?? "",
      Number(record?.time ?? 0n),
      record?.consumer ?? "",
      record?.service ?? "",
      record?.subjectRef ?? "",
      record?.purpose ?? "",
      DECISION_NAME[record?.decision ?? 0] ?? "",
      record?.status ?? "",
      Buffer.from(leaf),
      Number(record?.discloseAfter ?? 0n),
    );
    this.tree.append(leafHash(leaf));
  }

  /** Signs and stores a tree head for the current size, publishing it nowhere (reindex, tests). */
  signTreeHead(now = Date.now()): TreeHead {
    return this.storeTreeHead(signHead(this.logKey, this.unsignedHead(now)));
  }

  /** The current tree as a head to sign. */
  unsignedHead(now = Date.now()) {
    return {
      logId: this.logId,
      treeSize: this.tree.treeSize,
      rootHash: this.tree.root().toString("hex"),
      timestamp: now,
    };
  }

  /**
   * Keeps a head signed elsewhere or published by the signing round: the review API serves the
   * latest. The head must be of this log and of a tree this index holds, with this index's root at
   * that size (the caller checked its signature).
   */
  storeTreeHead(head: TreeHead): TreeHead {
    if (head.logId !== this.logId) throw new Error(`a head of log ${head.logId} is not one of ${this.logId}`);
    if (this.tree.root(head.treeSize).toString("hex") !== head.rootHash)
      throw new Error(`the head of size ${head.treeSize} has another root than this index at that size`);
    this.insertHead.run(head.treeSize, head.rootHash, head.timestamp, head.signature);
    return head;
  }
}

function decodeOrUndefined(leaf: Buffer): ExchangeRecord | undefined {
  try {
    return fromBinary(ExchangeRecordSchema, leaf);
  } catch {
    return undefined;
  }
}

function openWritable(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS entries (
      idx INTEGER PRIMARY KEY,
      exchange_id TEXT NOT NULL,
      time INTEGER NOT NULL,
      consumer TEXT NOT NULL,
      service TEXT NOT NULL,
      subject_ref TEXT NOT NULL,
      purpose TEXT NOT NULL,
      decision TEXT NOT NULL,
      status TEXT NOT NULL,
      leaf BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS entries_exchange ON entries (exchange_id);
    CREATE INDEX IF NOT EXISTS entries_consumer ON entries (consumer, idx);
    CREATE INDEX IF NOT EXISTS entries_service ON entries (service, idx);
    CREATE INDEX IF NOT EXISTS entries_subject ON entries (subject_ref, idx);
    CREATE INDEX IF NOT EXISTS entries_time ON entries (time);
    CREATE TABLE IF NOT EXISTS tree_heads (
      tree_size INTEGER PRIMARY KEY, root_hash TEXT NOT NULL, timestamp INTEGER NOT NULL, signature TEXT NOT NULL
    );
  `);
  addDiscloseAfter(db);
  return db;
}

/**
 * Delayed disclosure's column (ms since the epoch; 0: shown at once), added to an index made before
 * it and filled from the leaves already there: an older indexer may have stored covert exchanges
 * without it, and the citizen view must never show one of those early.
 */
function addDiscloseAfter(db: Database.Database): void {
  const columns = db.prepare("PRAGMA table_info(entries)").all() as { name: string }[];
  if (!columns.some((c) => c.name === "disclose_after")) {
    db.transaction(() => {
      db.exec("ALTER TABLE entries ADD COLUMN disclose_after INTEGER NOT NULL DEFAULT 0");
      const set = db.prepare("UPDATE entries SET disclose_after = ? WHERE idx = ?");
      // In pages: better-sqlite3 cannot write on a connection while one of its reads is still open.
      const page = db.prepare("SELECT idx, leaf FROM entries WHERE idx > ? ORDER BY idx LIMIT 5000");
      for (let last = -1; ; ) {
        const rows = page.all(last) as { idx: number; leaf: Buffer }[];
        if (rows.length === 0) break;
        for (const r of rows) {
          const after = Number(decodeOrUndefined(r.leaf)?.discloseAfter ?? 0n);
          if (after > 0) set.run(after, r.idx);
          last = r.idx;
        }
      }
    })();
  }
  db.exec("CREATE INDEX IF NOT EXISTS entries_embargo ON entries (disclose_after) WHERE disclose_after > 0");
}
