import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { leafHash } from "../../core/log-format/index.js";
import { rootFromLeaves, verifyConsistency, verifyInclusion } from "../../verifier/index.js";
import { MerkleStore } from "./merkle-store.js";

// RFC 6962 test vectors, as published with the Certificate Transparency reference implementations.
const LEAVES = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map((h) => Buffer.from(h, "hex"));
const ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

function storeWith(leaves: Buffer[]): MerkleStore {
  const store = new MerkleStore(new Database(":memory:"));
  for (const l of leaves) store.append(leafHash(l));
  return store;
}

describe("RFC 6962 test vectors", () => {
  it("the indexer's store gives the published root for each size 1..8", () => {
    const store = storeWith(LEAVES);
    for (let n = 1; n <= 8; n++) expect(store.root(n).toString("hex"), `size ${n}`).toBe(ROOTS[n - 1]);
    expect(store.root(0).toString("hex")).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });

  it("the offline verifier gives the same roots on its own", () => {
    for (let n = 1; n <= 8; n++)
      expect(rootFromLeaves(LEAVES.slice(0, n)).toString("hex")).toBe(ROOTS[n - 1]);
  });
});

describe("proofs for every index of trees of size 1..64", () => {
  const leaves = Array.from({ length: 64 }, (_, i) => Buffer.from(`leaf-${i}`));
  const store = storeWith(leaves);

  it("inclusion proofs verify, and fail for a wrong leaf, index or root", () => {
    for (let n = 1; n <= 64; n++) {
      const root = store.root(n);
      expect(root.equals(rootFromLeaves(leaves.slice(0, n)))).toBe(true);
      for (let i = 0; i < n; i++) {
        const path = store.inclusionProof(i, n);
        const lh = leafHash(leaves[i] as Buffer);
        expect(verifyInclusion(i, n, lh, path, root), `inclusion ${i}/${n}`).toBe(true);
        expect(verifyInclusion(i, n, leafHash(Buffer.from("forged")), path, root)).toBe(false);
        if (n > 1) expect(verifyInclusion((i + 1) % n, n, lh, path, root)).toBe(false);
      }
    }
  });

  it("consistency proofs verify between every pair of sizes, and fail for a wrong root", () => {
    for (let n = 1; n <= 64; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = store.consistencyProof(m, n);
        expect(verifyConsistency(m, n, store.root(m), store.root(n), proof), `consistency ${m}→${n}`).toBe(
          true,
        );
        if (m < n)
          expect(verifyConsistency(m, n, leafHash(Buffer.from("x")), store.root(n), proof)).toBe(false);
      }
    }
  });

  it("refuses sizes and indexes outside the tree", () => {
    expect(() => store.root(65)).toThrow(RangeError);
    expect(() => store.inclusionProof(5, 5)).toThrow(RangeError);
    expect(() => store.consistencyProof(0, 5)).toThrow(RangeError);
  });
});

describe("a read-only store beside the writer (the review API beside the indexer worker)", () => {
  it("reports what the writer has committed at each call, and refuses to write", () => {
    const dir = mkdtempSync(join(tmpdir(), "xbus-merkle-"));
    try {
      const path = join(dir, "tree.sqlite");
      const wdb = new Database(path);
      wdb.pragma("journal_mode = WAL");
      const writer = new MerkleStore(wdb);
      const rdb = new Database(path, { readonly: true, fileMustExist: true });
      const reader = new MerkleStore(rdb);
      expect(reader.treeSize).toBe(0);
      const leaves = Array.from({ length: 8 }, (_, i) => Buffer.from(`leaf-${i}`));
      for (const [i, l] of leaves.entries()) {
        wdb.transaction(() => writer.append(leafHash(l)))();
        expect(reader.treeSize, `after leaf ${i}`).toBe(i + 1);
        expect(reader.root().equals(writer.root())).toBe(true);
        expect(verifyInclusion(i, i + 1, leafHash(l), reader.inclusionProof(i, i + 1), reader.root())).toBe(
          true,
        );
      }
      expect(() => reader.append(leafHash(Buffer.from("x")))).toThrow(/read-only/);
      expect(reader.treeSize).toBe(8);
      expect(() => reader.root(9)).toThrow(RangeError);
      rdb.close();
      wdb.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
