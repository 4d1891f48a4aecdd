import { existsSync } from "node:fs";
// The independent verifier's consistency check, not the indexer's own Merkle code: a rebuilt tree is held
// to the old head as `xbus log verify` holds a later head to an earlier one.
import { type Growth, proveGrowth } from "../../verifier/index.js";
import { LogIndexReader, type TreeHead } from "./log-index.js";

const OLD_HEAD = "the old index's last signed head";
const REBUILT = "the tree rebuilt from the stream";

/**
 * The last tree head the index at `path` signed: what reviewers may have seen and kept, so a rebuilt
 * index must extend it. Undefined when there is no index there or it signed none; `unreadable` says why
 * an index that is there could not be read (a damaged one is what a reindex is for).
 */
export function lastSignedHead(path: string, logId: string): { head?: TreeHead; unreadable?: string } {
  if (!existsSync(path)) return {};
  let reader: LogIndexReader | undefined;
  try {
    reader = new LogIndexReader(path, logId);
    const head = reader.latestTreeHead();
    return head ? { head } : {};
  } catch (err) {
    return { unreadable: (err as Error).message };
  } finally {
    reader?.close();
  }
}

/**
 * Whether the index rebuilt from the stream extends the old index's last signed head, as `xbus log verify`
 * checks a later head against an earlier one: a stream that now holds fewer entries, or other ones, means
 * the log was rewritten or forked, and re-signing it with the log's key must not pass as a repair. The
 * proof comes from the rebuilt tree and is checked with the verifier's own Merkle code.
 */
export function rebuiltExtends(old: TreeHead, rebuilt: LogIndexReader): Promise<Growth> {
  return proveGrowth(
    async (first, second) => ({
      first,
      second,
      proof: rebuilt.tree.consistencyProof(first, second).map((h) => h.toString("hex")),
    }),
    {
      earlier: { tree_size: old.treeSize, root_hash: old.rootHash },
      later: { tree_size: rebuilt.treeSize, root_hash: rebuilt.tree.root().toString("hex") },
      earlierName: OLD_HEAD,
      laterName: REBUILT,
    },
  );
}
