import { verify } from "node:crypto";
import {
  type Checkpoint,
  cosignatureSignedBytes,
  type NoteSignature,
  parseCheckpointText,
  parseNote,
  parseVkey,
  SIG_ED25519,
  type Vkey,
} from "../core/log-format/index.js";
import { ed25519FromRaw } from "../core/signing/index.js";
import type { WitnessPolicy } from "./witness-policy.js";

/** What a checkpoint was opened against: the log's verifier key, and optionally a witness policy. */
export interface CheckpointTrust {
  /** The log's vkey (`xbus log` prints it; dev.json `log_vkey`). */
  logVkey: string;
  /** When given, the checkpoint must carry cosignatures that satisfy its quorum. */
  policy?: WitnessPolicy | undefined;
}

export interface OpenedCheckpoint {
  checkpoint: Checkpoint;
  /** The note text that was signed. */
  text: string;
  /** Witnesses of the policy whose cosignature verified, with their time (POSIX seconds). */
  cosigned: { name: string; time: number }[];
}

export type OpenResult = ({ ok: true } & OpenedCheckpoint) | { ok: false; problem: string };

const matches = (s: NoteSignature, k: Vkey) => s.name === k.name && s.keyId.equals(k.keyId);

/**
 * Opens a signed checkpoint as c2sp.org/signed-note and tlog-checkpoint say: signatures of unknown keys
 * are ignored; one of a known key that fails refuses the whole note; the log's signature must verify;
 * the origin line must be the log key's name. With a policy, each listed witness's cosignature/v1 is
 * checked the same way and the policy's quorum must hold. Never throws on bad input.
 */
export function openCheckpoint(note: string, trust: CheckpointTrust): OpenResult {
  let log: Vkey;
  try {
    log = parseVkey(trust.logVkey);
  } catch (err) {
    return { ok: false, problem: `the log's ${(err as Error).message}` };
  }
  if (log.type !== SIG_ED25519)
    return { ok: false, problem: "the log's verifier key is not an Ed25519 note key" };
  let text: string;
  let signatures: NoteSignature[];
  let checkpoint: Checkpoint;
  try {
    ({ text, signatures } = parseNote(note));
    checkpoint = parseCheckpointText(text);
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
  if (checkpoint.origin !== log.name)
    return {
      ok: false,
      problem: `the checkpoint is of origin ${JSON.stringify(checkpoint.origin)}, the log key's name is ${JSON.stringify(log.name)}`,
    };
  const logKey = ed25519FromRaw(log.key);
  let logSigned = false;
  for (const s of signatures.filter((s) => matches(s, log))) {
    if (s.signature.length !== 64 || !verify(null, Buffer.from(text), logKey, s.signature))
      return {
        ok: false,
        problem: `the log's signature on the checkpoint (size ${checkpoint.size}) does not verify`,
      };
    logSigned = true;
  }
  if (!logSigned) return { ok: false, problem: "the checkpoint carries no signature of the log's key" };
  const cosigned: OpenedCheckpoint["cosigned"] = [];
  if (trust.policy) {
    for (const [name, { vkey }] of trust.policy.witnesses) {
      for (const s of signatures.filter((s) => matches(s, vkey))) {
        const time = s.signature.length === 72 ? s.signature.readBigUInt64BE(0) : -1n;
        const ok =
          time >= 0n &&
          time < 2n ** 63n &&
          verify(
            null,
            cosignatureSignedBytes(text, Number(time)),
            ed25519FromRaw(vkey.key),
            s.signature.subarray(8),
          );
        if (!ok) return { ok: false, problem: `witness ${name}'s cosignature does not verify` };
        cosigned.push({ name, time: Number(time) });
      }
    }
    const have = new Set(cosigned.map((c) => c.name));
    if (!trust.policy.satisfied(have)) {
      const missing = [...trust.policy.witnesses.keys()].filter((name) => !have.has(name));
      return {
        ok: false,
        problem: `the checkpoint (size ${checkpoint.size}) is cosigned by ${have.size ? [...have].join(", ") : "no trusted witness"}: not enough for the policy's quorum ${trust.policy.quorum} (no cosignature of ${missing.join(", ")})`,
      };
    }
  }
  return { ok: true, checkpoint, text, cosigned };
}
