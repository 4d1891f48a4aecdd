import { type CheckpointTrust, type OpenedCheckpoint, openCheckpoint } from "./checkpoint.js";
import { compareHeads } from "./consistency.js";
import { fromTiles } from "./tile-hashes.js";
import { verifyConsistency, verifyInclusion } from "./verify-tree.js";

export type TilesVerifyResult =
  | {
      ok: true;
      opened: OpenedCheckpoint;
      /** Against the remembered checkpoint, when there was one. */
      growth?: "same" | "extends";
      /** Whether the leaf asked about was proved in the checkpoint's tree (when one was). */
      leafIncluded?: true;
      /** Tiles fetched. */
      tiles: number;
    }
  /** `pending`: the leaf asked about is newer than the checkpoint; try again after the next one. */
  | { ok: false; problem: string; pending?: true };

/**
 * A monitor's check of a log from its public reads alone (C2SP tlog-tiles): opens `note` (the log's
 * `/checkpoint`) with the log's vkey and policy, recomputes the root of its tree from hash tiles and
 * requires the checkpoint's; with a `remembered` checkpoint, requires the new one to extend it, by a
 * consistency proof built from the same tiles; with a `leaf`, requires it in the tree, by an inclusion
 * proof built from the tiles. Both proofs are checked with verify-tree.ts against the checkpoint's
 * root, so no tile is trusted. Never a pass on a tile that could not be fetched or is malformed.
 */
export async function verifyFromTiles(o: {
  note: string;
  trust: CheckpointTrust;
  fetchTile: (path: string) => Promise<Buffer>;
  remembered?: { opened: OpenedCheckpoint; name: string } | undefined;
  leaf?: { index: number; hash: Buffer } | undefined;
}): Promise<TilesVerifyResult> {
  const opened = openCheckpoint(o.note, o.trust);
  if (!opened.ok) return { ok: false, problem: opened.problem };
  const { size, rootHash } = opened.checkpoint;
  const cache = new Map<string, Buffer>();
  const tiles = async <T>(what: string, compute: Parameters<typeof fromTiles<T>>[2]) => {
    try {
      return { value: await fromTiles(size, o.fetchTile, compute, cache) };
    } catch (err) {
      return { problem: `${what} from tiles failed: ${(err as Error).message}` };
    }
  };
  const root = await tiles("the root", (t) => t.root());
  if ("problem" in root) return { ok: false, problem: root.problem ?? "" };
  if (!root.value.equals(rootHash))
    return {
      ok: false,
      problem: `the tiles of the tree of size ${size} give the root ${root.value.toString("hex")}, the checkpoint says ${rootHash.toString("hex")}: the log serves tiles of another tree than it signed`,
    };
  let growth: "same" | "extends" | undefined;
  if (o.remembered) {
    const before = o.remembered.opened.checkpoint;
    const compared = compareHeads({
      earlier: { tree_size: before.size, root_hash: before.rootHash.toString("hex") },
      later: { tree_size: size, root_hash: rootHash.toString("hex") },
      earlierName: o.remembered.name,
      laterName: "the checkpoint served now",
    });
    if (compared.ok === false) return compared;
    if (compared.ok === true) growth = compared.how;
    else {
      const proof = await tiles(`the consistency proof from size ${before.size} to ${size}`, (t) =>
        t.consistencyProof(before.size),
      );
      if ("problem" in proof) return { ok: false, problem: proof.problem ?? "" };
      if (!verifyConsistency(before.size, size, before.rootHash, rootHash, proof.value))
        return {
          ok: false,
          problem: `the log was rewritten or forked: the consistency proof from size ${before.size} to ${size}, built from the tiles, does not verify, so the checkpoint served now (root ${rootHash.toString("hex")}) is not shown to extend ${o.remembered.name} (root ${before.rootHash.toString("hex")})`,
        };
      growth = "extends";
    }
  }
  if (o.leaf) {
    const { index, hash } = o.leaf;
    if (index >= size)
      return {
        ok: false,
        pending: true,
        problem: `leaf ${index} is not in the checkpoint of size ${size} yet; try again after the next checkpoint`,
      };
    const path = await tiles(`the inclusion proof of leaf ${index}`, (t) => t.inclusionProof(index));
    if ("problem" in path) return { ok: false, problem: path.problem ?? "" };
    if (!verifyInclusion(index, size, hash, path.value, rootHash))
      return {
        ok: false,
        problem: `leaf ${index} with hash ${hash.toString("hex")} is not in the checkpoint's tree of size ${size}: the inclusion proof built from the tiles does not verify`,
      };
  }
  return {
    ok: true,
    opened,
    ...(growth && { growth }),
    ...(o.leaf && { leafIncluded: true as const }),
    tiles: cache.size,
  };
}

/**
 * Fetches `tile/…` paths under the log's base URL, without a token: an answer other than 200 is an
 * error naming the path, status and the server's message.
 */
export function tileFetcher(baseUrl: string): (path: string) => Promise<Buffer> {
  const base = new URL(baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  if (base.protocol !== "http:" && base.protocol !== "https:")
    throw new Error(`the log's URL must be http(s): ${baseUrl}`);
  return async (path) => {
    const url = new URL(path, base);
    const res = await fetch(url);
    if (res.status !== 200) {
      const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new Error(`${url.pathname}: HTTP ${res.status} ${body.error?.message ?? ""}`.trim());
    }
    return Buffer.from(await res.arrayBuffer());
  };
}
