import { Hono } from "hono";
import { parseTilePath, TILE_WIDTH, TilePathError, tilePath } from "../../../core/log-format/index.js";
import type { CheckpointSource } from "../../indexer/checkpoint-signer.js";
import type { MerkleStore } from "../../indexer/merkle-store.js";
import { readTile } from "../../indexer/tile-reader.js";
import { badRequest, httpError } from "../http-errors.js";

/** A full tile never changes: the log only appends, and its hashes are of complete subtrees. */
export const FULL_TILE_CACHE = "public, max-age=31536000, immutable";
/**
 * A partial tile's hashes never change either, but the spec lets a log drop partial tiles once the full
 * one exists, so caches are told to hold it only briefly.
 */
export const PARTIAL_TILE_CACHE = "public, max-age=60";

/**
 * C2SP tlog-tiles hash tiles, without a token (README, "Tiles (C2SP tlog-tiles)"): `GET /tile/<L>/<N>`
 * and `GET /tile/<L>/<N>.p/<W>`, within the latest checkpoint `/checkpoint` serves (the witnessed one
 * where witnessing is on), so a monitor reads only hashes that checkpoint commits to. A hash reveals no
 * entry. Entry bundles (`/tile/entries/…`) are not served here: an entry says who asked for which
 * service, so entries stay behind the reviewer token (`GET /v1/log/entries`).
 */
export function tileRoutes(tree: MerkleStore, checkpoints: CheckpointSource | undefined): Hono {
  return new Hono().get("/tile/*", (c) => {
    const path = new URL(c.req.url).pathname;
    if (path.startsWith("/tile/entries/") || path === "/tile/entries")
      throw httpError(
        404,
        "entry bundles are not public: entries stay behind the reviewer token (GET /v1/log/entries)",
      );
    if (new URL(c.req.url).search !== "") throw badRequest("tile routes take no query parameters");
    let tile: ReturnType<typeof parseTilePath>;
    try {
      tile = parseTilePath(path.slice("/tile/".length));
    } catch (err) {
      if (err instanceof TilePathError) throw badRequest(err.message);
      throw err;
    }
    if (!checkpoints) throw httpError(404, "this API serves no checkpoints, so no tiles");
    const size = checkpoints.latest()?.size ?? 0;
    const body = readTile(tree, size, tile);
    if (!body)
      throw httpError(
        404,
        `${tilePath(tile)} is not in the tree of the latest checkpoint (size ${size})${tile.width === TILE_WIDTH ? "; a tile still partial is served only as .p/<W>" : ""}`,
      );
    return c.body(new Uint8Array(body), 200, {
      "content-type": "application/octet-stream",
      "cache-control": tile.width === TILE_WIDTH ? FULL_TILE_CACHE : PARTIAL_TILE_CACHE,
    });
  });
}
