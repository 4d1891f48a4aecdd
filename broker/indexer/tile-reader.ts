import { TILE_HEIGHT, TILE_WIDTH, type TileRef } from "../../core/log-format/index.js";
import type { MerkleStore } from "./merkle-store.js";

/**
 * The C2SP tlog-tiles hash tile `t` of the tree of `size` leaves, read from the store, or undefined when
 * that tree does not hold it. Tile level L, index N, width W holds the complete subtrees at tree level 8·L,
 * indices N·256 … N·256+W−1, which the store keeps as they are (one range scan). A tree of `size` holds
 * the tile when all W of those subtrees are complete in it: a full tile only once all 256 are, so a full
 * tile is never served while it is still partial; a partial tile of any width up to what the tree has,
 * the widths of earlier checkpoints included (they are prefixes of the same hashes), so a client proving
 * consistency from an older size finds the partial tile that size needs.
 */
export function readTile(store: MerkleStore, size: number, t: TileRef): Buffer | undefined {
  const complete = Math.floor(size / 2 ** (TILE_HEIGHT * t.level));
  const start = t.index * TILE_WIDTH;
  if (t.width < 1 || t.width > TILE_WIDTH || start + t.width > complete) return undefined;
  return Buffer.concat(store.nodes(TILE_HEIGHT * t.level, start, t.width));
}
