/*
 * C2SP tlog-tiles paths for hash tiles: `tile/<L>/<N>[.p/<W>]`, with N written as zero-padded
 * three-digit elements, all but the last prefixed with `x` (1234067 → `x001/x234/067`). Shared by the log
 * that serves tiles and the verifier that fetches them: the encoding is part of the format.
 */

/** Hashes in a full tile (tiles are subtrees of height 8). */
export const TILE_WIDTH = 256;
/** Tree levels per tile level. */
export const TILE_HEIGHT = 8;
/** The spec's largest tile level. */
export const MAX_TILE_LEVEL = 63;
/**
 * The largest tile index this log can name: a tile's first hash at level 0 is leaf N·256, and a tree
 * size is a safe integer.
 */
export const MAX_TILE_INDEX = Math.floor(Number.MAX_SAFE_INTEGER / TILE_WIDTH);

/** A hash tile: tile level, index within the level, and width (TILE_WIDTH for a full tile). */
export interface TileRef {
  level: number;
  index: number;
  width: number;
}

/** A tile path that is not one, with the reason (the message names what is wrong). */
export class TilePathError extends Error {
  override name = "TilePathError";
}

/** `tile/<L>/<N>[.p/<W>]` (no leading slash) of a tile. */
export function tilePath(t: TileRef): string {
  let n = t.index;
  let path = String(n % 1000).padStart(3, "0");
  while (n >= 1000) {
    n = Math.floor(n / 1000);
    path = `x${String(n % 1000).padStart(3, "0")}/${path}`;
  }
  return `tile/${t.level}/${path}${t.width === TILE_WIDTH ? "" : `.p/${t.width}`}`;
}

const LEVEL = /^(?:0|[1-9][0-9]?)$/;
const WIDTH = /^[1-9][0-9]{0,2}$/;
const INNER = /^x[0-9]{3}$/;
const LAST = /^[0-9]{3}$/;
/** Elements of N: five are enough for MAX_TILE_INDEX (14 digits). */
const MAX_ELEMENTS = 5;

/**
 * Parses what follows `tile/` in a hash tile's path, strictly: one encoding per tile, so a cache never
 * holds two copies and nothing else reaches the store. Throws a TilePathError naming the first problem.
 */
export function parseTilePath(rest: string): TileRef {
  const parts = rest.split("/");
  const [l, ...n] = parts;
  if (l === undefined || !LEVEL.test(l) || Number(l) > MAX_TILE_LEVEL)
    throw new TilePathError(
      `tile level must be 0 to ${MAX_TILE_LEVEL} without leading zeros, got ${quote(l ?? "")}`,
    );
  let width = TILE_WIDTH;
  const dotP = n.length >= 2 ? (n[n.length - 2] as string) : "";
  if (dotP.endsWith(".p")) {
    const w = n[n.length - 1] as string;
    if (!WIDTH.test(w) || Number(w) >= TILE_WIDTH)
      throw new TilePathError(
        `partial tile width must be 1 to ${TILE_WIDTH - 1} without leading zeros, got ${quote(w)}`,
      );
    width = Number(w);
    n.splice(n.length - 2, 2, dotP.slice(0, -2));
  }
  if (n.length === 0 || (n.length === 1 && n[0] === ""))
    throw new TilePathError("no tile index after the level");
  if (n.length > MAX_ELEMENTS)
    throw new TilePathError(`tile index has ${n.length} path elements, at most ${MAX_ELEMENTS}`);
  let index = 0;
  for (const [i, e] of n.entries()) {
    const last = i === n.length - 1;
    if (!(last ? LAST : INNER).test(e))
      throw new TilePathError(
        `tile index element ${quote(e)} must be ${last ? "three digits (the last element)" : "x and three digits"}`,
      );
    index = index * 1000 + Number(last ? e : e.slice(1));
  }
  if (n.length > 1 && n[0] === "x000")
    throw new TilePathError(`tile index ${quote(n.join("/"))} has leading zeros (x000)`);
  if (index > MAX_TILE_INDEX)
    throw new TilePathError(`tile index ${index} is too large (at most ${MAX_TILE_INDEX})`);
  return { level: Number(l), index, width };
}

const quote = (s: string) => JSON.stringify(s.slice(0, 64));
