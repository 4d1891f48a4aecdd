import type { ReviewClient, TreeHeadJson } from "./review-client.js";
import { verifyConsistency } from "./verify-tree.js";

type Head = Pick<TreeHeadJson, "tree_size" | "root_hash">;

/** Two signed heads of one log, each named as the messages should call it. */
export interface HeadPair {
  earlier: Head;
  later: Head;
  /** e.g. "the export's tree head". */
  earlierName: string;
  /** e.g. "the tree head fetched after the export". */
  laterName: string;
}

export type Growth =
  /** Same size, same root: nothing to prove. */
  | { ok: true; how: "same" }
  /** Larger, and proved to extend the earlier tree (or the earlier tree was empty, which every tree extends). */
  | { ok: true; how: "extends" }
  | { ok: false; problem: string };

const REWRITTEN = "the log was rewritten or forked";

/**
 * What can be told of two heads from their sizes and roots alone, as a Certificate Transparency monitor
 * checks each new head against the last: the same tree; a later head that is smaller,
 * or of the same size with another root, which a log that only grows never signs; or a larger one,
 * which only a consistency proof can show extends the earlier ("unproved").
 */
export function compareHeads(p: HeadPair): Growth | { ok: "unproved" } {
  const { earlier: a, later: b } = p;
  if (b.tree_size < a.tree_size)
    return {
      ok: false,
      problem: `${REWRITTEN}: ${p.laterName} is of size ${b.tree_size}, smaller than ${p.earlierName} of size ${a.tree_size}`,
    };
  if (b.tree_size === a.tree_size)
    return b.root_hash === a.root_hash
      ? { ok: true, how: "same" }
      : {
          ok: false,
          problem: `${REWRITTEN}: ${p.earlierName} and ${p.laterName} are both of size ${a.tree_size} but their roots differ, ${a.root_hash} and ${b.root_hash}`,
        };
  if (a.tree_size === 0) return { ok: true, how: "extends" };
  return { ok: "unproved" };
}

/** Where a consistency proof comes from: an answer of the shape `GET /v1/log/proof/consistency` gives. */
export type ProofSource = (first: number, second: number) => Promise<unknown>;

/** Consistency proofs from the review API. */
export function proofsFrom(client: ReviewClient): ProofSource {
  return (first, second) => client.get("/v1/log/proof/consistency", { first, second });
}

/**
 * Whether the log's later head extends its earlier one: `compareHeads`, and for a larger head the
 * consistency proof between the two sizes, asked of `proofs` and checked here with the verifier's own
 * Merkle code (verifier/verify-tree.ts). A proof that cannot be had, is not one, or does not verify is a
 * failure, never a pass. Both heads must already be accepted (treeHeadProblem).
 */
export async function proveGrowth(proofs: ProofSource, p: HeadPair): Promise<Growth> {
  const compared = compareHeads(p);
  if (compared.ok !== "unproved") return compared;
  const m = p.earlier.tree_size;
  const n = p.later.tree_size;
  const between = `the consistency proof from size ${m} to ${n}`;
  let answer: unknown;
  try {
    answer = await proofs(m, n);
  } catch (err) {
    return { ok: false, problem: `${between} could not be fetched: ${(err as Error).message}` };
  }
  const proof = proofHashes(answer, m, n);
  if (!proof)
    return {
      ok: false,
      problem: `${between} is not one: the answer names other sizes, or hashes that are not 64 lowercase hex digits`,
    };
  const ok = verifyConsistency(
    m,
    n,
    Buffer.from(p.earlier.root_hash, "hex"),
    Buffer.from(p.later.root_hash, "hex"),
    proof,
  );
  return ok
    ? { ok: true, how: "extends" }
    : {
        ok: false,
        problem: `${REWRITTEN}: ${between} does not verify, so ${p.laterName} (root ${p.later.root_hash}) is not shown to extend ${p.earlierName} (root ${p.earlier.root_hash})`,
      };
}

/** The proof's hashes, when `answer` is a consistency proof between exactly `first` and `second`. */
function proofHashes(answer: unknown, first: number, second: number): Buffer[] | undefined {
  const a = answer as { first?: unknown; second?: unknown; proof?: unknown } | null;
  if (a?.first !== first || a.second !== second || !Array.isArray(a.proof)) return undefined;
  const list: unknown[] = a.proof;
  if (!list.every((h) => typeof h === "string" && /^[0-9a-f]{64}$/.test(h))) return undefined;
  return list.map((h) => Buffer.from(h as string, "hex"));
}
