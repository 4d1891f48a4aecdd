import type { KeyObject } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { type Receipt, ReceiptSchema } from "../proto/gen/xbus/v1/exchange_pb.js";
import {
  checkReceipt,
  proofsFrom,
  proveGrowth,
  type ReviewClient,
  type TreeHeadJson,
  treeHeadProblem,
  verifyInclusion,
} from "../verifier/index.js";

/** What the audit needs to know of the log: where to ask, and what to trust. */
export interface LogTrust {
  review: ReviewClient;
  logId: string;
  /** base64 of the raw Ed25519 key that signs tree heads. */
  logPublicKey: string;
  /** Receipt-signing keys by broker id. */
  brokerPublicKeys: ReadonlyMap<string, KeyObject>;
}

export interface ReceiptAudit {
  checked: number;
  /** Receipts whose leaf is not proved in a signed tree head of the log (must be 0). */
  missing: number;
  /** Why, for the first few. */
  problems: string[];
  /** The signed head every receipt was proved against. */
  treeSize: number;
}

const PROOF_CONCURRENCY = 8;
const MAX_PROBLEMS = 5;

async function signedHead(t: LogTrust): Promise<TreeHeadJson> {
  const head = await t.review.get<TreeHeadJson>("/v1/log/tree-head");
  const problem = treeHeadProblem(head, "the log's tree head", {
    logId: { value: t.logId, from: "the target's" },
    key: { value: t.logPublicKey, from: "the pinned log key" },
  });
  if (problem) throw new Error(problem);
  return head;
}

/**
 * Checks every receipt the load received against the log: the broker's
 * signature over it (verifier/receipt.ts), then its leaf's inclusion proof
 * against one signed tree head that covers them all (verifier/verify-tree.ts),
 * waiting up to `waitMs` for the log to sign a head that large. A receipt
 * that fails either is counted missing: the consumer holds a record whose
 * exchange the log cannot show.
 */
export async function auditReceipts(
  t: LogTrust,
  receipts: readonly Uint8Array[],
  waitMs = 15_000,
): Promise<ReceiptAudit> {
  const problems: string[] = [];
  let missing = 0;
  const miss = (problem: string) => {
    missing++;
    if (problems.length < MAX_PROBLEMS) problems.push(problem);
  };
  const decoded: Receipt[] = [];
  for (const bytes of receipts) {
    const r = fromBinary(ReceiptSchema, bytes);
    const key = t.brokerPublicKeys.get(r.brokerId);
    if (!key) {
      miss(
        `leaf ${r.leafIndex}: signed by broker ${JSON.stringify(r.brokerId)}, whose key the target did not name`,
      );
      continue;
    }
    const signed = await checkReceipt(r, key);
    if (!signed.ok) miss(`leaf ${r.leafIndex}: ${signed.problem}`);
    else if (r.logId !== t.logId) miss(`leaf ${r.leafIndex}: receipt of log ${r.logId}`);
    else decoded.push(r);
  }
  const highest = decoded.reduce((m, r) => Math.max(m, Number(r.leafIndex)), -1);
  let head = await signedHead(t);
  const until = Date.now() + waitMs;
  while (head.tree_size <= highest && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    head = await signedHead(t);
  }
  const root = Buffer.from(head.root_hash, "hex");
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < decoded.length; i = next++) {
      const r = decoded[i] as Receipt;
      const index = Number(r.leafIndex);
      if (index >= head.tree_size) {
        miss(`leaf ${index}: not in the log's signed head of size ${head.tree_size} after ${waitMs} ms`);
        continue;
      }
      try {
        const proof = await t.review.get<{ audit_path: string[] }>("/v1/log/proof/inclusion", {
          index,
          tree_size: head.tree_size,
        });
        const path = proof.audit_path.map((h) => Buffer.from(h, "hex"));
        if (!verifyInclusion(index, head.tree_size, Buffer.from(r.leafHash), path, root))
          miss(`leaf ${index}: the receipt's hash is not in the signed tree of size ${head.tree_size}`);
      } catch (err) {
        miss(`leaf ${index}: no inclusion proof: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: PROOF_CONCURRENCY }, worker));
  return { checked: receipts.length, missing, problems, treeSize: head.tree_size };
}

/** A signed head the watcher saw, and when. */
export interface SeenHead {
  at: number;
  treeSize: number;
}

/**
 * Polls the log's signed tree head and proves each new one extends the one
 * before it (a consistency proof checked by the verifier), for as long as it
 * runs. A head that does not verify, or does not extend its predecessor, is a
 * problem with its time; a review API that does not answer (its process is
 * down, NATS is down) is not one: the next head that comes is proved against
 * the last one seen.
 */
export function watchTreeHeads(t: LogTrust, everyMs = 500) {
  const seen: SeenHead[] = [];
  const problems: { at: number; problem: string }[] = [];
  let last: TreeHeadJson | undefined;
  let stopped = false;
  const proofs = proofsFrom(t.review);
  const poll = async () => {
    let head: TreeHeadJson;
    try {
      head = await t.review.get<TreeHeadJson>("/v1/log/tree-head");
    } catch {
      return;
    }
    const problem = treeHeadProblem(head, "the log's tree head", {
      logId: { value: t.logId, from: "the target's" },
      key: { value: t.logPublicKey, from: "the pinned log key" },
    });
    if (problem) {
      problems.push({ at: Date.now(), problem });
      return;
    }
    if (last && last.tree_size === head.tree_size && last.root_hash === head.root_hash) return;
    if (last) {
      const growth = await proveGrowth(proofs, {
        earlier: last,
        later: head,
        earlierName: `the head of size ${last.tree_size}`,
        laterName: `the head of size ${head.tree_size}`,
      });
      if (!growth.ok) problems.push({ at: Date.now(), problem: growth.problem });
    }
    seen.push({ at: Date.now(), treeSize: head.tree_size });
    last = head;
  };
  const loop = (async () => {
    while (!stopped) {
      await poll();
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    /** Heads seen and problems found between `from` and `to` (epoch ms). */
    between(from: number, to: number) {
      return {
        seen: seen.filter((h) => h.at >= from && h.at <= to).length,
        notExtending: problems.filter((p) => p.at >= from && p.at <= to).map((p) => p.problem),
      };
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Every leaf's record from the review API, `start` to the latest signed head (pages of 1,000). */
export async function logRecords(
  t: LogTrust,
  start = 0,
): Promise<{ index: number; record: Record<string, unknown> | null }[]> {
  const head = await signedHead(t);
  const out: { index: number; record: Record<string, unknown> | null }[] = [];
  for (let at = start; at < head.tree_size; ) {
    const page = await t.review.get<{ entries: { index: number; record: Record<string, unknown> | null }[] }>(
      "/v1/log/entries",
      { start: at, limit: Math.min(1000, head.tree_size - at) },
    );
    if (page.entries.length === 0) break;
    out.push(...page.entries.map((e) => ({ index: e.index, record: e.record })));
    at += page.entries.length;
  }
  return out;
}
