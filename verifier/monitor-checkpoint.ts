import { parseVkey } from "../core/log-format/index.js";
import { type OpenedCheckpoint, openCheckpoint } from "./checkpoint.js";
import { type ProofSource, proveGrowth } from "./consistency.js";
import type { RememberedCheckpoint } from "./monitor-state.js";
import type { TreeHeadJson } from "./review-client.js";
import type { WitnessPolicy } from "./witness-policy.js";

/** What a monitor holds a served checkpoint to (`xbus log verify --state` with the log's vkey). */
export interface CheckpointMonitorOptions {
  /** The log's vkey the checkpoint must be signed under. */
  vkey: string;
  /** When given, the checkpoint's cosignatures must meet its quorum. */
  policy?: WitnessPolicy | undefined;
  /** The checkpoint an earlier run verified, and what to call it; the served one must extend it. */
  remembered?: (RememberedCheckpoint & { name: string }) | undefined;
  /** The tree head this run verified last: the checkpoint must be of its log and key, and consistent with it. */
  head: TreeHeadJson;
}

export type CheckpointMonitorResult =
  | {
      ok: true;
      opened: OpenedCheckpoint;
      /** How the checkpoint stands to the remembered one, of which size (undefined: none was remembered). */
      history: { how: "same" | "extends"; size: number } | undefined;
    }
  | {
      ok: false;
      problem: string;
      /** When two checkpoints of the log disagree: both notes, verbatim, so a person can compare and publish them. */
      conflict?: { remembered: string; served: string } | undefined;
    };

const SERVED = "the checkpoint served at /checkpoint";

/**
 * Why the vkey this run would use cannot be, given the remembered checkpoint's (another key or log):
 * checked before anything is fetched, as a pinned tree-head key is.
 */
export function rememberedVkeyProblem(
  vkey: string,
  remembered: RememberedCheckpoint | undefined,
  name: string,
) {
  if (remembered && remembered.vkey !== vkey)
    return `${name} was verified with the log's vkey ${remembered.vkey}, but the vkey given is ${vkey}`;
  return undefined;
}

const asHead = (c: OpenedCheckpoint["checkpoint"]) => ({
  tree_size: c.size,
  root_hash: c.rootHash.toString("hex"),
});

/**
 * A monitor's check of the log's C2SP checkpoint (`GET /checkpoint`, with witnessing the witnessed one):
 * it opens with the log's vkey (and meets the policy's quorum, with a policy); the vkey is that of the
 * tree heads the run verified (name = log ID, key = their key); the checkpoint extends the remembered
 * one (same size and root, or larger with a consistency proof: verifier/consistency.ts, the same check
 * as for tree heads) and is consistent with the run's latest tree head. A fork against the remembered
 * checkpoint comes back with both notes.
 */
export async function checkServedCheckpoint(
  note: string,
  proofs: ProofSource,
  opts: CheckpointMonitorOptions,
): Promise<CheckpointMonitorResult> {
  const opened = openCheckpoint(note, { logVkey: opts.vkey, policy: opts.policy });
  if (!opened.ok) return { ok: false, problem: `${SERVED}: ${opened.problem}` };
  const vkey = parseVkey(opts.vkey);
  const headKey = opts.head.public_key;
  if (vkey.name !== opts.head.log_id || vkey.key.toString("base64") !== headKey)
    return {
      ok: false,
      problem: `the log's vkey ${opts.vkey} is not of the tree heads verified (log ${JSON.stringify(opts.head.log_id)}, key ${headKey})`,
    };
  const served = asHead(opened.checkpoint);
  let history: { how: "same" | "extends"; size: number } | undefined;
  const r = opts.remembered;
  if (r) {
    const before = openCheckpoint(r.note, { logVkey: r.vkey });
    if (!before.ok) return { ok: false, problem: `${r.name}: ${before.problem}` };
    const since = await proveGrowth(proofs, {
      earlier: asHead(before.checkpoint),
      later: served,
      earlierName: r.name,
      laterName: SERVED,
    });
    if (!since.ok)
      return { ok: false, problem: since.problem, conflict: { remembered: r.note, served: note } };
    history = { how: since.how, size: before.checkpoint.size };
  }
  // The witnessed checkpoint usually lags the latest head; it may also be a little ahead of it.
  const HEAD = "the tree head fetched after the export";
  const headPair =
    served.tree_size <= opts.head.tree_size
      ? { earlier: served, later: opts.head, earlierName: SERVED, laterName: HEAD }
      : { earlier: opts.head, later: served, earlierName: HEAD, laterName: SERVED };
  const withHead = await proveGrowth(proofs, headPair);
  if (!withHead.ok) return { ok: false, problem: withHead.problem };
  return { ok: true, opened, history };
}
