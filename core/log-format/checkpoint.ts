import { type KeyObject, sign } from "node:crypto";
import {
  encodeVkey,
  noteKeyId,
  SIG_COSIGNATURE_V1,
  SIG_ED25519,
  signatureLine,
  signNote,
} from "./signed-note.js";

/**
 * C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the note text `<origin>\n<size>\n<base64 root>\n`,
 * signed by the log's Ed25519 key under the key name = origin (= the log ID). An Ed25519 signature is
 * deterministic and a checkpoint has no timestamp, so the checkpoint of a signed tree head is a pure
 * function of (origin, size, root, key): any instance holding the key writes the same bytes.
 */

export interface Checkpoint {
  origin: string;
  size: number;
  /** The 32-byte root hash. */
  rootHash: Buffer;
  /** Extension lines, if any (we write none). */
  extensions: string[];
}

/** The checkpoint's note text. */
export function checkpointText(c: { origin: string; size: number; rootHash: Uint8Array }): string {
  if (c.rootHash.length !== 32) throw new Error("a checkpoint's root hash is 32 bytes");
  if (!Number.isSafeInteger(c.size) || c.size < 0)
    throw new Error("a checkpoint's size is a non-negative integer");
  if (c.origin === "" || c.origin.includes("\n"))
    throw new Error("a checkpoint's origin is one non-empty line");
  return `${c.origin}\n${c.size}\n${Buffer.from(c.rootHash).toString("base64")}\n`;
}

/** The log's signed checkpoint: key name = origin, Ed25519 note signature. */
export function signCheckpoint(
  c: { origin: string; size: number; rootHash: Uint8Array },
  logKey: KeyObject,
  rawPublicKey: Uint8Array,
): string {
  return signNote(checkpointText(c), c.origin, logKey, rawPublicKey);
}

/** The log's verifier key: `<origin>+<key ID>+base64(0x01 ‖ key)`. */
export function logVkey(origin: string, rawPublicKey: Uint8Array): string {
  return encodeVkey(origin, SIG_ED25519, rawPublicKey);
}

/** A witness's verifier key: type 0x04, cosignature/v1 (c2sp.org/tlog-cosignature). */
export function cosignerVkey(name: string, rawPublicKey: Uint8Array): string {
  return encodeVkey(name, SIG_COSIGNATURE_V1, rawPublicKey);
}

/**
 * Parses a checkpoint's note text strictly: origin, size in decimal without leading zeroes, a root of
 * exactly 32 bytes in canonical base64, then non-empty extension lines. Throws naming the problem.
 */
export function parseCheckpointText(text: string): Checkpoint {
  if (!text.endsWith("\n")) throw new Error("checkpoint: the text does not end in a newline");
  const lines = text.slice(0, -1).split("\n");
  const [origin, size, root, ...extensions] = lines;
  if (origin === undefined || origin === "") throw new Error("checkpoint: the origin line is empty");
  if (size === undefined || !/^(?:0|[1-9][0-9]{0,15})$/.test(size))
    throw new Error("checkpoint: the size line is not a decimal without leading zeroes");
  const n = Number(size);
  if (!Number.isSafeInteger(n)) throw new Error("checkpoint: the size is too large");
  if (root === undefined) throw new Error("checkpoint: no root hash line");
  const rootHash = Buffer.from(root, "base64");
  if (rootHash.length !== 32 || rootHash.toString("base64") !== root)
    throw new Error("checkpoint: the root hash is not 32 bytes in base64");
  if (extensions.some((l) => l === "")) throw new Error("checkpoint: an extension line is empty");
  return { origin, size: n, rootHash, extensions };
}

/** The bytes a cosignature/v1 signs: header, time line, then the checkpoint text. */
export function cosignatureSignedBytes(checkpoint: string, timestamp: number): Buffer {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0)
    throw new Error("a cosignature time is a POSIX second");
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpoint}`);
}

/** A witness's cosignature line on `checkpoint` (its text) at `timestamp` (POSIX seconds). */
export function cosignatureLine(
  checkpoint: string,
  name: string,
  key: KeyObject,
  rawPublicKey: Uint8Array,
  timestamp: number,
): string {
  const sig = sign(null, cosignatureSignedBytes(checkpoint, timestamp), key);
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(timestamp));
  return signatureLine(name, noteKeyId(name, SIG_COSIGNATURE_V1, rawPublicKey), Buffer.concat([ts, sig]));
}
