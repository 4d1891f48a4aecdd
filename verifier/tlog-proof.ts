import { parseTlogProof } from "../core/log-format/index.js";
import { type CheckpointTrust, type OpenedCheckpoint, openCheckpoint } from "./checkpoint.js";
import { verifyInclusion } from "./verify-tree.js";

export type TlogProofResult =
  | ({ ok: true; index: number; extra?: Buffer | undefined } & OpenedCheckpoint)
  | { ok: false; problem: string };

/**
 * Verifies a C2SP tlog-proof offline, in the spec's order: the leaf hash is the caller's (from what it
 * holds: a receipt); the checkpoint must open with the log's vkey (and meet the witness policy, when
 * given); the inclusion proof must lead from that leaf at the proof's index to the checkpoint's root.
 * `index`, when given, must be the proof's. Never throws on bad input; `extra` is returned unchecked.
 */
export function verifyTlogProof(
  text: string,
  leaf: { hash: Buffer; index?: number | undefined },
  trust: CheckpointTrust,
): TlogProofResult {
  let proof: ReturnType<typeof parseTlogProof>;
  try {
    proof = parseTlogProof(text);
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
  if (leaf.index !== undefined && leaf.index !== proof.index)
    return { ok: false, problem: `the proof is for leaf ${proof.index}, not leaf ${leaf.index}` };
  const opened = openCheckpoint(proof.checkpoint, trust);
  if (!opened.ok) return opened;
  const { size, rootHash } = opened.checkpoint;
  if (proof.index >= size)
    return { ok: false, problem: `leaf ${proof.index} is outside the checkpoint's tree (size ${size})` };
  if (!verifyInclusion(proof.index, size, leaf.hash, proof.proof, rootHash))
    return {
      ok: false,
      problem: `the inclusion proof does not lead from leaf ${proof.index} with this hash to the checkpoint's root (size ${size})`,
    };
  return { ...opened, index: proof.index, extra: proof.extra };
}
