import { leafHash } from "../core/log-format/index.js";
import { compareHeads } from "./consistency.js";
import type { ExportLine } from "./export.js";
import type { TreeHeadJson } from "./review-client.js";
import { type HeadTrust, treeHeadProblem } from "./tree-head.js";
import { rootFromLeafHashes } from "./verify-tree.js";

export type VerifyResult =
  | { ok: true; entries: number; treeHeads: number; rootHash: string; head: TreeHeadJson }
  | { ok: false; badIndex: number | undefined; problem: string };

export interface VerifyOptions {
  /** Base64 of the raw Ed25519 key every head must name and be signed by (--public-key). */
  publicKey?: string | undefined;
  /** The log ID every head must carry (--log-id). */
  logId?: string | undefined;
  /**
   * A head verified in an earlier run (xbus log verify --state) and what to call it: its key and log ID
   * are trusted where nothing is pinned. It must itself be accepted under what is pinned (rememberedProblem).
   */
  remembered?: { head: TreeHeadJson; name: string } | undefined;
}

/**
 * What the verifier trusts before it has read a head: what the person running it pinned, else the key
 * and log ID of the head it remembers from an earlier run.
 */
export function pinnedTrust(opts: VerifyOptions): HeadTrust {
  const r = opts.remembered;
  return {
    key:
      opts.publicKey !== undefined
        ? { value: opts.publicKey, from: "the pinned key" }
        : r && { value: r.head.public_key, from: `the key of ${r.name}` },
    logId:
      opts.logId !== undefined
        ? { value: opts.logId, from: "the log ID given (--log-id)" }
        : r && { value: r.head.log_id, from: `the log ID of ${r.name}` },
  };
}

/** Why the remembered head cannot be trusted under what is pinned (another key or log ID), if it cannot. */
export function rememberedProblem(opts: VerifyOptions): string | undefined {
  const r = opts.remembered;
  return r && treeHeadProblem(r.head, r.name, pinnedTrust({ publicKey: opts.publicKey, logId: opts.logId }));
}

/**
 * Checks an export with nothing but the hashing rules and the log's public key:
 * entries are contiguous from 0; each tree head is of one log ID and under one
 * key (the pinned ones, else the first head's), and its signature is valid; no
 * two heads of one size have different roots; the exported leaf hashes rebuild
 * each head's root (which authenticates them, and shows the heads consistent
 * with each other); and each exported leaf hashes to its authenticated leaf
 * hash — so a changed leaf is named by its index. If leaf and hash were both
 * changed, the root no longer matches and the range since the last good head is
 * named instead.
 */
export function verifyExport(lines: Iterable<ExportLine>, opts: VerifyOptions = {}): VerifyResult {
  const heads: TreeHeadJson[] = [];
  const listed: Buffer[] = [];
  let firstAltered: number | undefined;
  for (const line of lines) {
    if (line.type === "tree_head") {
      heads.push(line);
      continue;
    }
    if (line.index !== listed.length) {
      return {
        ok: false,
        badIndex: listed.length,
        problem: `entry ${listed.length} is missing (next entry is ${line.index})`,
      };
    }
    const claimed = Buffer.from(line.leaf_hash, "hex");
    listed.push(claimed);
    if (firstAltered === undefined && !leafHash(Buffer.from(line.leaf, "base64")).equals(claimed))
      firstAltered = line.index;
  }
  if (heads.length === 0) return { ok: false, badIndex: undefined, problem: "the export holds no tree head" };
  const names = new Map(
    heads.map((h, i) => [
      h,
      heads.length === 1 ? "the export's tree head" : `the export's tree head ${i + 1} of ${heads.length}`,
    ]),
  );
  const name = (h: TreeHeadJson) => names.get(h) ?? "a tree head";
  const trust = pinnedTrust(opts);
  for (const head of heads) {
    const problem = treeHeadProblem(head, name(head), trust);
    if (problem) return { ok: false, badIndex: undefined, problem };
    trust.key ??= { value: head.public_key, from: `the key of ${name(head)}` };
    trust.logId ??= { value: head.log_id, from: `the log ID of ${name(head)}` };
  }
  heads.sort((a, b) => a.tree_size - b.tree_size);
  // Sorted by size, only neighbours can be of one size; their roots must then be the same.
  for (const [i, later] of heads.entries()) {
    const earlier = heads[i - 1];
    if (!earlier) continue;
    const compared = compareHeads({ earlier, later, earlierName: name(earlier), laterName: name(later) });
    if (compared.ok === false) return { ok: false, badIndex: undefined, problem: compared.problem };
  }
  let lastGood = 0;
  for (const head of heads) {
    if (head.tree_size > listed.length) {
      return {
        ok: false,
        badIndex: listed.length,
        problem: `tree head covers ${head.tree_size} entries, the export has ${listed.length}`,
      };
    }
    if (rootFromLeafHashes(listed.slice(0, head.tree_size)).toString("hex") !== head.root_hash) {
      return {
        ok: false,
        badIndex: lastGood,
        problem: `entries ${lastGood}..${head.tree_size - 1} do not rebuild the signed root of size ${head.tree_size}`,
      };
    }
    lastGood = head.tree_size;
  }
  if (firstAltered !== undefined && firstAltered < lastGood) {
    return {
      ok: false,
      badIndex: firstAltered,
      problem: `entry ${firstAltered} was altered: its bytes do not hash to the logged leaf hash`,
    };
  }
  if (lastGood < listed.length) {
    return {
      ok: false,
      badIndex: lastGood,
      problem: `entries from ${lastGood} are not covered by a signed tree head`,
    };
  }
  const last = heads.at(-1) as TreeHeadJson;
  return { ok: true, entries: listed.length, treeHeads: heads.length, rootHash: last.root_hash, head: last };
}
