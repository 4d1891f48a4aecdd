import type { Database, Statement } from "better-sqlite3";
import { EMPTY_ROOT, nodeHash } from "../../core/log-format/index.js";

/** A proof asked for outside the tree (an index, a size): the caller's mistake, a 400 in the review API. */
export class ProofRangeError extends RangeError {
  override name = "ProofRangeError";
}

/**
 * The exchange log's Merkle tree (RFC 6962 / RFC 9162) in SQLite. Every
 * complete subtree is stored once as (level, index) → hash, so appending a leaf
 * writes at most log2(n) nodes, and the root, inclusion and consistency proofs
 * of any tree size need O(log n) lookups. Callers run `append` inside their own
 * transaction.
 *
 * On a read-only connection (the review API's, beside the indexer that writes
 * in another thread) nothing is cached: the tree size is read from the database
 * each time it is needed (an O(log n) primary-key lookup), so the reader never
 * serves a size older than what the writer has committed, and `append` is refused.
 */
export class MerkleStore {
  private readonly get: Statement<[number, number], { hash: Buffer }>;
  private readonly range: Statement<[number, number, number], { hash: Buffer }>;
  private readonly put: Statement<[number, number, Buffer]>;
  private readonly countStmt: Statement<[], { n: number }>;
  private readonly readOnly: boolean;
  private size: number;

  constructor(db: Database) {
    this.readOnly = db.readonly;
    if (!this.readOnly)
      db.exec(
        "CREATE TABLE IF NOT EXISTS merkle_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID",
      );
    this.get = db.prepare("SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?");
    this.range = db.prepare(
      "SELECT hash FROM merkle_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
    );
    // Preparing is allowed on a read-only connection; SQLite refuses to run it there.
    this.put = db.prepare("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)");
    // A reader asks on every request, so it takes the last leaf's index (the primary key's last
    // entry) rather than counting every leaf; leaves are contiguous from 0, so both give the size.
    this.countStmt = db.prepare(
      this.readOnly
        ? "SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM merkle_nodes WHERE level = 0"
        : "SELECT COUNT(*) AS n FROM merkle_nodes WHERE level = 0",
    );
    this.size = this.countStmt.get()?.n ?? 0;
  }

  /** Number of leaves: the writer's own count, or what is committed now for a read-only store. */
  get treeSize(): number {
    return this.readOnly ? this.readSize() : this.size;
  }

  private readSize(): number {
    this.size = this.countStmt.get()?.n ?? 0;
    return this.size;
  }

  /** Re-reads the size, after a rolled-back transaction. */
  reload(): void {
    this.readSize();
  }

  append(leafHash: Buffer): number {
    if (this.readOnly) throw new Error("the Merkle tree is open read-only");
    const index = this.size;
    this.put.run(0, index, leafHash);
    let hash = leafHash;
    let level = 0;
    let i = index;
    while (i % 2 === 1) {
      hash = nodeHash(this.node(level, i - 1), hash);
      level++;
      i = Math.floor(i / 2);
      this.put.run(level, i, hash);
    }
    this.size = index + 1;
    return index;
  }

  leafHash(index: number): Buffer {
    return this.node(0, index);
  }

  /**
   * The stored hashes of `count` consecutive complete subtrees at tree `level` from `start`: one range
   * scan of the primary key (a hash tile). Throws when one is missing, as for any node.
   */
  nodes(level: number, start: number, count: number): Buffer[] {
    const rows = this.range.all(level, start, start + count);
    if (rows.length !== count)
      throw new Error(
        `merkle nodes (${level}, ${start}..${start + count - 1}): ${count - rows.length} missing: the index is damaged, run \`xbus log reindex\``,
      );
    return rows.map((r) => r.hash);
  }

  /** Root hash of the tree of the first `treeSize` leaves. */
  root(treeSize = this.treeSize): Buffer {
    this.check(treeSize);
    return treeSize === 0 ? EMPTY_ROOT : this.mth(0, treeSize);
  }

  /** RFC 6962 §2.1.1 PATH(m, D[n]). */
  inclusionProof(index: number, treeSize: number): Buffer[] {
    this.check(treeSize);
    if (!Number.isInteger(index) || index < 0 || index >= treeSize)
      throw new ProofRangeError(`index ${index} is not in a tree of size ${treeSize}`);
    const path: Buffer[] = [];
    const walk = (m: number, start: number, n: number) => {
      if (n === 1) return;
      const k = splitPoint(n);
      if (m < k) {
        walk(m, start, k);
        path.push(this.mth(start + k, start + n));
      } else {
        walk(m - k, start + k, n - k);
        path.push(this.mth(start, start + k));
      }
    };
    walk(index, 0, treeSize);
    return path;
  }

  /** RFC 6962 §2.1.2 PROOF(m, D[n]). */
  consistencyProof(first: number, second: number): Buffer[] {
    this.check(second);
    if (!Number.isInteger(first) || first < 1 || first > second)
      throw new ProofRangeError(`first must be 1..${second}, got ${first}`);
    const proof: Buffer[] = [];
    const sub = (m: number, start: number, n: number, whole: boolean) => {
      if (m === n) {
        if (!whole) proof.push(this.mth(start, start + n));
        return;
      }
      const k = splitPoint(n);
      if (m <= k) {
        sub(m, start, k, whole);
        proof.push(this.mth(start + k, start + n));
      } else {
        sub(m - k, start + k, n - k, false);
        proof.push(this.mth(start, start + k));
      }
    };
    sub(first, 0, second, true);
    return proof;
  }

  /** MTH(D[start:end]); `start` is always aligned to the largest complete subtree inside the range. */
  private mth(start: number, end: number): Buffer {
    const n = end - start;
    if ((n & (n - 1)) === 0 && start % n === 0) return this.node(Math.log2(n), start / n);
    const k = splitPoint(n);
    return nodeHash(this.mth(start, start + k), this.mth(start + k, end));
  }

  private node(level: number, index: number): Buffer {
    const row = this.get.get(level, index);
    if (!row)
      throw new Error(
        `merkle node (${level}, ${index}) is missing: the index is damaged, run \`xbus log reindex\``,
      );
    return row.hash;
  }

  private check(treeSize: number): void {
    const size = this.treeSize;
    if (!Number.isInteger(treeSize) || treeSize < 0 || treeSize > size) {
      throw new ProofRangeError(`tree_size must be 0..${size}, got ${treeSize}`);
    }
  }
}

/** The largest power of two smaller than n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
