import { verify } from "node:crypto";
import { ed25519FromRaw } from "../../core/ed25519-raw.js";
import { leafHash, treeHeadSignedBytes } from "../../core/merkle-hash.js";
import type { ExportLine } from "./export.js";
import type { TreeHeadJson } from "./review-client.js";
import { rootFromLeafHashes } from "./verify-tree.js";

export type VerifyResult =
  | { ok: true; entries: number; treeHeads: number; rootHash: string }
  | { ok: false; badIndex: number | undefined; problem: string };

export function verifyTreeHeadSignature(head: TreeHeadJson, publicKeyB64: string): boolean {
  const bytes = treeHeadSignedBytes({
    logId: head.log_id,
    treeSize: head.tree_size,
    rootHash: head.root_hash,
    timestamp: head.timestamp,
  });
  return verify(
    null,
    bytes,
    ed25519FromRaw(Buffer.from(publicKeyB64, "base64")),
    Buffer.from(head.signature, "base64"),
  );
}

/**
 * Checks an export with nothing but the hashing rules and the log's public key:
 * entries are contiguous from 0; each tree head's signature is valid; the
 * exported leaf hashes rebuild each head's root (which authenticates them);
 * and each exported leaf hashes to its authenticated leaf hash — so a changed
 * leaf is named by its index. If leaf and hash were both changed, the root no
 * longer matches and the range since the last good head is named instead.
 */
export function verifyExport(lines: Iterable<ExportLine>, opts: { publicKey?: string } = {}): VerifyResult {
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
  heads.sort((a, b) => a.tree_size - b.tree_size);
  let lastGood = 0;
  for (const head of heads) {
    if (opts.publicKey && head.public_key !== opts.publicKey) {
      return {
        ok: false,
        badIndex: undefined,
        problem: `tree head ${head.tree_size} names a public key other than the pinned one`,
      };
    }
    if (!verifyTreeHeadSignature(head, opts.publicKey ?? head.public_key)) {
      return {
        ok: false,
        badIndex: undefined,
        problem: `tree head at size ${head.tree_size}: signature does not verify`,
      };
    }
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
  return { ok: true, entries: listed.length, treeHeads: heads.length, rootHash: last.root_hash };
}
