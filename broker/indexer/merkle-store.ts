import type { Database, Statement } from "better-sqlite3";
import { EMPTY_ROOT, nodeHash } from "../../core/merkle-hash.js";

/**
 * The exchange log's Merkle tree (RFC 6962 / RFC 9162) in SQLite. Every
 * complete subtree is stored once as (level, index) → hash, so appending a leaf
 * writes at most log2(n) nodes, and the root, inclusion and consistency proofs
 * of any tree size need O(log n) lookups. Callers run `append` inside their own
 * transaction.
 */
export class MerkleStore {
  private readonly get: Statement<[number, number], { hash: Buffer }>;
  private readonly put: Statement<[number, number, Buffer]>;
  private readonly countStmt: Statement<[], { n: number }>;
  private size: number;

  constructor(db: Database) {
    db.exec(
      "CREATE TABLE IF NOT EXISTS merkle_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID",
    );
    this.get = db.prepare("SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?");
    this.put = db.prepare("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)");
    this.countStmt = db.prepare("SELECT COUNT(*) AS n FROM merkle_nodes WHERE level = 0");
    this.size = this.countStmt.get()?.n ?? 0;
  }

  /** Number of leaves. */
  get treeSize(): number {
    return this.size;
  }

  /** Re-reads the size, after a rolled-back transaction. */
  reload(): void {
    this.size = this.countStmt.get()?.n ?? 0;
  }

  append(leafHash: Buffer): number {
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

  /** Root hash of the tree of the first `treeSize` leaves. */
  root(treeSize = this.size): Buffer {
    this.check(treeSize);
    return treeSize === 0 ? EMPTY_ROOT : this.mth(0, treeSize);
  }

  /** RFC 6962 §2.1.1 PATH(m, D[n]). */
  inclusionProof(index: number, treeSize: number): Buffer[] {
    this.check(treeSize);
    if (!Number.isInteger(index) || index < 0 || index >= treeSize)
      throw new RangeError(`index ${index} is not in a tree of size ${treeSize}`);
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
      throw new RangeError(`first must be 1..${second}, got ${first}`);
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
    if (!Number.isInteger(treeSize) || treeSize < 0 || treeSize > this.size) {
      throw new RangeError(`tree_size must be 0..${this.size}, got ${treeSize}`);
    }
  }
}

/** The largest power of two smaller than n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
