import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { parseTilePath, tilePath } from "../../core/log-format/index.js";
import { fromTiles, rootFromLeafHashes, TileHashes } from "../../verifier/index.js";
import { MerkleStore } from "./merkle-store.js";
import { readTile } from "./tile-reader.js";

// Hash tiles read from a real SQLite tree of the spec's example size, 70,000 leaves: 273 full level-0
// tiles and a partial one of width 112, one full level-1 tile and a partial one of 17, a level-2 tile
// of width 1. Then the verifier's tile reader (verifier/tile-hashes.ts) over those tiles must give the
// store's own roots and proofs at many sizes.

const SIZE = 70_000;
const dir = mkdtempSync(join(tmpdir(), "xbus-tiles-"));
const db = new Database(join(dir, "tree.sqlite"));
const store = new MerkleStore(db);
db.transaction(() => {
  for (let i = 0; i < SIZE; i++) store.append(createHash("sha256").update(`leaf ${i}`).digest());
})();
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const hashes = (b: Buffer | undefined) =>
  b && Array.from({ length: b.length / 32 }, (_, i) => b.subarray(i * 32, i * 32 + 32).toString("hex"));
const stored = (level: number, start: number, count: number) =>
  store.nodes(level, start, count).map((h) => h.toString("hex"));

describe("readTile", () => {
  it("gives the stored nodes at tree level 8·L for the tiles of the spec's example", () => {
    expect(hashes(readTile(store, SIZE, { level: 0, index: 0, width: 256 }))).toEqual(stored(0, 0, 256));
    expect(hashes(readTile(store, SIZE, { level: 0, index: 272, width: 256 }))).toEqual(
      stored(0, 272 * 256, 256),
    );
    expect(hashes(readTile(store, SIZE, { level: 0, index: 273, width: 112 }))).toEqual(
      stored(0, 273 * 256, 112),
    );
    expect(hashes(readTile(store, SIZE, { level: 1, index: 0, width: 256 }))).toEqual(stored(8, 0, 256));
    expect(hashes(readTile(store, SIZE, { level: 1, index: 1, width: 17 }))).toEqual(stored(8, 256, 17));
    expect(hashes(readTile(store, SIZE, { level: 2, index: 0, width: 1 }))).toEqual(stored(16, 0, 1));
    // A level-1 hash is the root of the full level-0 tile under it.
    expect(stored(8, 5, 1)).toEqual([rootFromLeafHashes(store.nodes(0, 5 * 256, 256)).toString("hex")]);
  });

  it("serves a partial tile of any width the tree holds, never a full tile while it is partial", () => {
    expect(readTile(store, SIZE, { level: 0, index: 273, width: 113 })).toBeUndefined();
    expect(readTile(store, SIZE, { level: 0, index: 273, width: 256 })).toBeUndefined();
    expect(readTile(store, SIZE, { level: 0, index: 274, width: 1 })).toBeUndefined();
    expect(readTile(store, SIZE, { level: 1, index: 1, width: 256 })).toBeUndefined();
    expect(readTile(store, SIZE, { level: 1, index: 1, width: 18 })).toBeUndefined();
    expect(readTile(store, SIZE, { level: 2, index: 0, width: 2 })).toBeUndefined();
    expect(readTile(store, SIZE, { level: 3, index: 0, width: 1 })).toBeUndefined();
    // An earlier checkpoint's partial tile (the prefix of the full one) stays readable.
    expect(hashes(readTile(store, SIZE, { level: 0, index: 3, width: 5 }))).toEqual(stored(0, 768, 5));
    // Within a smaller tree, tiles past it are not.
    expect(readTile(store, 1000, { level: 0, index: 3, width: 256 })).toBeUndefined();
    expect(hashes(readTile(store, 1000, { level: 0, index: 3, width: 232 }))).toEqual(stored(0, 768, 232));
    expect(readTile(store, 0, { level: 0, index: 0, width: 1 })).toBeUndefined();
  });
});

describe("the verifier's tile reader over these tiles", () => {
  const fromStore = (size: number) => new TileHashes(size, (t) => readTile(store, size, t));

  it("recomputes the store's root at sizes around every tile edge", () => {
    for (const size of [0, 1, 2, 3, 255, 256, 257, 511, 512, 4097, 65_535, 65_536, 65_537, 69_999, SIZE])
      expect(fromStore(size).root().toString("hex")).toBe(store.root(size).toString("hex"));
  });

  it("builds the store's inclusion and consistency proofs", () => {
    for (const [index, size] of [
      [0, 1],
      [0, 300],
      [255, 256],
      [256, 70_000],
      [69_999, 70_000],
      [12_345, 65_537],
    ] as const)
      expect(fromStore(size).inclusionProof(index)).toEqual(store.inclusionProof(index, size));
    for (const [first, size] of [
      [1, 2],
      [7, 300],
      [256, 70_000],
      [1000, 65_536],
      [65_536, 70_000],
      [69_999, 70_000],
      [70_000, 70_000],
    ] as const)
      expect(fromStore(size).consistencyProof(first)).toEqual(store.consistencyProof(first, size));
  });

  it("fetches each tile once, by its path, and refuses a tile of the wrong length", async () => {
    const asked: string[] = [];
    const fetchTile = async (path: string) => {
      asked.push(path);
      return readTile(store, SIZE, parseTilePath(path.slice("tile/".length))) ?? Buffer.alloc(0);
    };
    const root = await fromTiles(SIZE, fetchTile, (t) => t.root());
    expect(root.equals(store.root())).toBe(true);
    expect(new Set(asked).size).toBe(asked.length);
    expect(asked).toEqual(
      expect.arrayContaining([
        tilePath({ level: 2, index: 0, width: 1 }),
        tilePath({ level: 1, index: 1, width: 17 }),
        tilePath({ level: 0, index: 273, width: 112 }),
      ]),
    );
    await expect(
      fromTiles(
        SIZE,
        async () => Buffer.alloc(31),
        (t) => t.root(),
      ),
    ).rejects.toThrow(/tile\/2\/000\.p\/1 is 31 bytes, not 1 hashes of 32 bytes/);
  });
});
