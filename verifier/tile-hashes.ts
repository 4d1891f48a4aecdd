import {
  EMPTY_ROOT,
  nodeHash,
  TILE_HEIGHT,
  TILE_WIDTH,
  type TileRef,
  tilePath,
} from "../core/log-format/index.js";

/*
 * A Merkle tree read from C2SP tlog-tiles hash tiles alone: any complete subtree's hash comes from one
 * tile (a tile's hash directly, or the root of a power-of-two run of its hashes), so the root, inclusion
 * and consistency proofs of a tree need O(log n) tiles. The verifier's own code, like verify-tree.ts:
 * nothing here trusts a tile. A tile's hashes are only as good as the root they recompute, so callers
 * check the root against a signed checkpoint, and proofs built here with verify-tree.ts.
 */

/** A tile that is not loaded yet: what `TileHashes` asks its caller to fetch. */
export class MissingTile extends Error {
  override name = "MissingTile";
  constructor(readonly tile: TileRef) {
    super(`tile ${tilePath(tile)} is not loaded`);
  }
}

/**
 * The hashes of the tree of `size` leaves, from tiles that `load` gives (synchronously: from a cache, or
 * a store). A tile `load` does not have is thrown as MissingTile; `fromTiles` fetches it and asks again.
 */
export class TileHashes {
  constructor(
    readonly size: number,
    private readonly load: (t: TileRef) => Buffer | undefined,
  ) {}

  /** The tile that holds tree level `level`'s subtree `index` in this tree, with the width this tree gives it. */
  tileFor(level: number, index: number): { tile: TileRef; offset: number; run: number } {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const run = 2 ** (level % TILE_HEIGHT);
    const first = index * run;
    const tileIndex = Math.floor(first / TILE_WIDTH);
    const complete = Math.floor(this.size / 2 ** (TILE_HEIGHT * tileLevel));
    const width = Math.min(TILE_WIDTH, complete - tileIndex * TILE_WIDTH);
    return { tile: { level: tileLevel, index: tileIndex, width }, offset: first % TILE_WIDTH, run };
  }

  /** The hash of the complete subtree at tree level `level`, index `index` (it must lie within the tree). */
  node(level: number, index: number): Buffer {
    const { tile, offset, run } = this.tileFor(level, index);
    const data = this.load(tile);
    if (!data) throw new MissingTile(tile);
    // The root of `run` consecutive hashes (a power of two): pairs hashed in place, level by level.
    const hashes: Buffer[] = [];
    for (let i = offset; i < offset + run; i++) hashes.push(data.subarray(i * 32, i * 32 + 32));
    for (let n = run; n > 1; n /= 2)
      for (let i = 0; i < n / 2; i++)
        hashes[i] = nodeHash(hashes[2 * i] as Buffer, hashes[2 * i + 1] as Buffer);
    return hashes[0] as Buffer;
  }

  /** MTH(D[start:end]), RFC 6962 §2.1, from complete subtrees. */
  mth(start: number, end: number): Buffer {
    const n = end - start;
    if (n === 0) return EMPTY_ROOT;
    if ((n & (n - 1)) === 0 && start % n === 0) return this.node(Math.log2(n), start / n);
    const k = largestPowerBelow(n);
    return nodeHash(this.mth(start, start + k), this.mth(start + k, end));
  }

  root(): Buffer {
    return this.mth(0, this.size);
  }

  /** RFC 6962 §2.1.1 PATH(index, D[size]). */
  inclusionProof(index: number): Buffer[] {
    const path: Buffer[] = [];
    const walk = (m: number, start: number, n: number): void => {
      if (n === 1) return;
      const k = largestPowerBelow(n);
      if (m < k) {
        walk(m, start, k);
        path.push(this.mth(start + k, start + n));
      } else {
        walk(m - k, start + k, n - k);
        path.push(this.mth(start, start + k));
      }
    };
    walk(index, 0, this.size);
    return path;
  }

  /** RFC 6962 §2.1.2 PROOF(first, D[size]), 1 ≤ first ≤ size. */
  consistencyProof(first: number): Buffer[] {
    const proof: Buffer[] = [];
    const sub = (m: number, start: number, n: number, whole: boolean): void => {
      if (m === n) {
        if (!whole) proof.push(this.mth(start, start + n));
        return;
      }
      const k = largestPowerBelow(n);
      if (m <= k) {
        sub(m, start, k, whole);
        proof.push(this.mth(start + k, start + n));
      } else {
        sub(m - k, start + k, n - k, false);
        proof.push(this.mth(start, start + k));
      }
    };
    sub(first, 0, this.size, true);
    return proof;
  }
}

/**
 * Runs `compute` over the tree of `size` leaves, fetching each tile it turns out to need (at most a few
 * per level) and caching every tile in `cache` by path, as a client keeps them: tiles never change. A
 * tile of the wrong length is refused.
 */
export async function fromTiles<T>(
  size: number,
  fetchTile: (path: string) => Promise<Buffer>,
  compute: (tree: TileHashes) => T,
  cache: Map<string, Buffer> = new Map(),
): Promise<T> {
  const tree = new TileHashes(size, (t) => cache.get(tilePath(t)));
  for (;;) {
    try {
      return compute(tree);
    } catch (err) {
      if (!(err instanceof MissingTile)) throw err;
      const path = tilePath(err.tile);
      const data = await fetchTile(path);
      if (data.length !== err.tile.width * 32)
        throw new Error(`${path} is ${data.length} bytes, not ${err.tile.width} hashes of 32 bytes`);
      cache.set(path, data);
    }
  }
}

function largestPowerBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
