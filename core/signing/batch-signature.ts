import { type KeyObject, verify } from "node:crypto";
import { leafHash, rootFromInclusion } from "../log-format/index.js";

/*
 * Batch signatures, after draft-ietf-tls-batch-signing: when a process has
 * several messages to sign with one key at the same moment, it signs the root
 * of a Merkle tree over them (RFC 9162 hashing: leaf SHA-256(0x00‖message),
 * node SHA-256(0x01‖left‖right)) once, and each message carries that one
 * signature with its place in the batch and its audit path. A busy broker
 * makes one Ed25519 signature per batch instead of one per exchange, and a
 * connector checks one per batch (core/signing/sign-async.ts forms the batches: what
 * is asked during one event-loop turn).
 *
 * A message signed alone carries a plain Ed25519 signature over its own bytes,
 * exactly as before batching existed; verifiers accept both forms. What the
 * root's signature covers:
 *
 *   "xbus-batch/v1\n" size "\n" hex(root) "\n"
 *
 * Every message signed this way starts with its own domain ("xbus-route/v1",
 * "xbus-reply/v1", "xbus-receipt/v1"), so a leaf of one kind never passes for
 * another.
 */
export interface BatchProof {
  /** This message's leaf index in the batch. */
  index: number;
  /** Messages in the batch, at least 2. */
  size: number;
  /** RFC 9162 audit path from the message's leaf to the batch root, nearest sibling first. */
  path: Uint8Array[];
}

export interface BatchedSignature {
  /** Ed25519, 64 bytes: over the message alone (no proof) or over the batch root. */
  signature: Uint8Array;
  proof?: BatchProof | undefined;
}

/** The most messages one root signs: audit paths stay at most 6 hashes. */
export const MAX_BATCH = 64;
const MAX_PATH = 16;

export function batchRootSignedBytes(root: Uint8Array, size: number): Buffer {
  return Buffer.from(`xbus-batch/v1\n${size}\n${Buffer.from(root).toString("hex")}\n`);
}

/**
 * The bytes whose Ed25519 signature `s` must be: the message itself, or the
 * root its proof leads to. Undefined when the proof is malformed.
 */
export function batchSignedBytes(message: Uint8Array, s: BatchedSignature): Buffer | undefined {
  if (s.signature.length !== 64) return undefined;
  if (!s.proof) return Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const { index, size, path } = s.proof;
  if (size < 2 || size > 0xffff || path.length > MAX_PATH || path.some((p) => p.length !== 32))
    return undefined;
  const root = rootFromInclusion(index, size, leafHash(message), path);
  return root && batchRootSignedBytes(root, size);
}

/** True when `key` made `s` over `message`, alone or in a batch. Synchronous: for tests, tools and rare checks. */
export function verifyBatchedSignature(message: Uint8Array, key: KeyObject, s: BatchedSignature): boolean {
  const signed = batchSignedBytes(message, s);
  return signed !== undefined && verify(null, signed, key, s.signature);
}

/**
 * Compact form for a header: signature (64) ‖ index (u16) ‖ size (u16) ‖
 * path (32 bytes each); a lone signature is just its 64 bytes.
 */
export function encodeBatchedSignature(s: BatchedSignature): Buffer {
  if (!s.proof) return Buffer.from(s.signature);
  const out = Buffer.alloc(68 + 32 * s.proof.path.length);
  out.set(s.signature, 0);
  out.writeUInt16BE(s.proof.index, 64);
  out.writeUInt16BE(s.proof.size, 66);
  s.proof.path.forEach((p, i) => {
    out.set(p, 68 + 32 * i);
  });
  return out;
}

export function decodeBatchedSignature(b: Uint8Array): BatchedSignature | undefined {
  if (b.length === 64) return { signature: b };
  if (b.length < 68 || (b.length - 68) % 32 !== 0 || (b.length - 68) / 32 > MAX_PATH) return undefined;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const path: Uint8Array[] = [];
  for (let at = 68; at < buf.length; at += 32) path.push(buf.subarray(at, at + 32));
  return {
    signature: buf.subarray(0, 64),
    proof: { index: buf.readUInt16BE(64), size: buf.readUInt16BE(66), path },
  };
}

/** A BatchedSignature from the fields a protobuf message carries (Receipt, ProviderSignature). */
export function batchedFromFields(f: {
  signature: Uint8Array;
  batchIndex: number;
  batchSize: number;
  batchPath: Uint8Array[];
}): BatchedSignature {
  return f.batchSize === 0
    ? { signature: f.signature }
    : { signature: f.signature, proof: { index: f.batchIndex, size: f.batchSize, path: f.batchPath } };
}

/** The protobuf fields for a BatchedSignature (zero and empty when it signs its message alone). */
export function batchedToFields(s: BatchedSignature): {
  signature: Uint8Array;
  batchIndex: number;
  batchSize: number;
  batchPath: Uint8Array[];
} {
  return {
    signature: s.signature,
    batchIndex: s.proof?.index ?? 0,
    batchSize: s.proof?.size ?? 0,
    batchPath: s.proof?.path ?? [],
  };
}
