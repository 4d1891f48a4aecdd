import type { EntryJson, ReviewClient, TreeHeadJson } from "./review-client.js";

/**
 * The export format, JSON lines: first one `{"type":"tree_head", ...}` line
 * (the signed head the export is cut at), then one
 * `{"type":"entry","index":I,"leaf":"<base64>","leaf_hash":"<hex>"}` line per entry 0..tree_size-1
 * (leaf_hash as the log's tree holds it; the signed root authenticates the list).
 * Everything `xbus log verify` needs besides nothing at all: the public key is in the head,
 * and the verifier pins it with --public-key when it should not trust the file.
 */
export type ExportLine =
  | ({ type: "tree_head" } & TreeHeadJson)
  | { type: "entry"; index: number; leaf: string; leaf_hash: string };

/** The most entries the API answers at once: `limit` above it is a 400, so the export pages by it. */
const ENTRIES_PAGE = 1000;

export async function* exportLog(
  client: ReviewClient,
  onProgress: (done: number, total: number) => void = () => {},
): AsyncGenerator<ExportLine> {
  const head = await client.get<TreeHeadJson>("/v1/log/tree-head");
  yield { type: "tree_head", ...head };
  let next = 0;
  while (next < head.tree_size) {
    const limit = Math.min(ENTRIES_PAGE, head.tree_size - next);
    const { entries } = await client.get<{ entries: EntryJson[] }>("/v1/log/entries", { start: next, limit });
    if (entries.length === 0)
      throw new Error(`the API returned no entries from ${next} though the tree head has ${head.tree_size}`);
    for (const e of entries) {
      if (e.index !== next) throw new Error(`the API skipped from ${next} to ${e.index}`);
      if (e.index >= head.tree_size) break;
      yield { type: "entry", index: e.index, leaf: e.leaf, leaf_hash: e.leaf_hash };
      next++;
    }
    onProgress(next, head.tree_size);
  }
}
