import { proofsFrom, proveGrowth } from "./consistency.js";
import { type ExportLine, exportLog } from "./export.js";
import type { ReviewClient, TreeHeadJson } from "./review-client.js";
import { treeHeadProblem } from "./tree-head.js";
import {
  pinnedTrust,
  rememberedProblem,
  type VerifyOptions,
  type VerifyResult,
  verifyExport,
} from "./verify.js";

export type LiveVerifyResult =
  | Extract<VerifyResult, { ok: false }>
  | (Extract<VerifyResult, { ok: true }> & {
      /** The head fetched after the export, and how it stands to the export's: the same tree, or a larger one proved to extend it. */
      later: TreeHeadJson;
      growth: "same" | "extends";
      /** With opts.remembered: how the export's head stands to it (else undefined: nothing remembered to hold it to). */
      history?: "same" | "extends" | undefined;
    });

const EXPORTED = "the export's tree head";
const LATER = "the tree head fetched after the export";

/**
 * `xbus log verify` against the review API: exports the log and verifies the export offline
 * (verifyExport), then fetches the tree head again, which must be a head of the same log under the
 * same key (the pinned one, else the export's), and must extend the export's head: the same size and
 * root, or larger with a consistency proof that verifies. A smaller head, or one of the same size with
 * another root, means the log was rewritten or forked between the two reads.
 *
 * With opts.remembered (the head an earlier run verified), that head must be accepted under what is
 * pinned, its key and log ID bind the export's heads where nothing is pinned, and the export's head
 * must extend it by the same rules: so a log rewritten between two runs fails too.
 */
export async function verifyLive(
  client: ReviewClient,
  opts: VerifyOptions & { onProgress?: (done: number, total: number) => void } = {},
): Promise<LiveVerifyResult> {
  const stale = rememberedProblem(opts);
  if (stale) return { ok: false, badIndex: undefined, problem: stale };
  const lines: ExportLine[] = [];
  for await (const line of exportLog(client, opts.onProgress)) lines.push(line);
  const result = verifyExport(lines, opts);
  if (!result.ok) return result;
  const exported = result.head;
  let history: "same" | "extends" | undefined;
  if (opts.remembered) {
    const since = await proveGrowth(proofsFrom(client), {
      earlier: opts.remembered.head,
      later: exported,
      earlierName: opts.remembered.name,
      laterName: EXPORTED,
    });
    if (!since.ok) return { ok: false, badIndex: undefined, problem: since.problem };
    history = since.how;
  }
  const later = await client.get<TreeHeadJson>("/v1/log/tree-head");
  const trust = pinnedTrust(opts);
  const problem = treeHeadProblem(later, LATER, {
    key: trust.key ?? { value: exported.public_key, from: `the key of ${EXPORTED}` },
    logId: { value: exported.log_id, from: `the log ID of ${EXPORTED}` },
  });
  if (problem) return { ok: false, badIndex: undefined, problem };
  const growth = await proveGrowth(proofsFrom(client), {
    earlier: exported,
    later,
    earlierName: EXPORTED,
    laterName: LATER,
  });
  if (!growth.ok) return { ok: false, badIndex: undefined, problem: growth.problem };
  return { ...result, later, growth: growth.how, history };
}
