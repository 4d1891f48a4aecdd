import { verify } from "node:crypto";
import { treeHeadSignedBytes } from "../core/log-format/index.js";
import { ed25519FromRaw } from "../core/signing/index.js";
import type { TreeHeadJson } from "./review-client.js";

/** A value a head must carry, and where the verifier got it, for the message when it does not. */
export interface Expected {
  value: string;
  /** e.g. "the pinned key", "the exported head's": said as "…, but {from} is {value}". */
  from: string;
}

/** What the verifier already trusts about a log's heads: its signing key and its ID. */
export interface HeadTrust {
  key?: Expected | undefined;
  logId?: Expected | undefined;
}

function verifyTreeHeadSignature(head: TreeHeadJson, publicKeyB64: string): boolean {
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

const HASH = /^[0-9a-f]{64}$/;
/** Base64 of exactly 32 bytes (a raw Ed25519 key) and of 64 (a signature), padded as Node writes it. */
const KEY_B64 = /^[A-Za-z0-9+/]{43}=$/;
const SIGNATURE_B64 = /^[A-Za-z0-9+/]{86}==$/;

/**
 * Why `head`, called `label` in the answer, cannot be accepted as a signed tree head of the log the
 * verifier trusts, or undefined when it can: it must be of the shape the log signs, name the expected
 * key and log ID, and its signature must verify with the expected key (without one, with the key it
 * names, which shows only that whoever served it holds that key).
 */
export function treeHeadProblem(head: unknown, label: string, trust: HeadTrust = {}): string | undefined {
  const shape = shapeProblem(head);
  if (shape) return `${label} is not a signed tree head: ${shape}`;
  const h = head as TreeHeadJson;
  if (trust.logId && h.log_id !== trust.logId.value)
    return `${label} is of log ${JSON.stringify(h.log_id)}, but ${trust.logId.from} is ${JSON.stringify(trust.logId.value)}`;
  if (trust.key && h.public_key !== trust.key.value)
    return `${label} names public key ${h.public_key}, but ${trust.key.from} is ${trust.key.value}`;
  if (!verifyTreeHeadSignature(h, trust.key?.value ?? h.public_key))
    return `${label} (size ${h.tree_size}): the signature does not verify with ${trust.key?.from ?? "the key it names"}`;
  return undefined;
}

/** Whether `b64` is base64 of 32 bytes as a tree head's public_key carries a raw Ed25519 key. */
export function isRawKeyBase64(b64: string): boolean {
  return KEY_B64.test(b64);
}

function shapeProblem(head: unknown): string | undefined {
  if (typeof head !== "object" || head === null) return "not a JSON object";
  const h = head as Record<string, unknown>;
  if (typeof h.log_id !== "string" || h.log_id === "") return "log_id is not a non-empty string";
  if (!Number.isSafeInteger(h.tree_size) || (h.tree_size as number) < 0)
    return "tree_size is not a non-negative integer";
  if (typeof h.root_hash !== "string" || !HASH.test(h.root_hash))
    return "root_hash is not 64 lowercase hex digits";
  if (!Number.isSafeInteger(h.timestamp)) return "timestamp is not an integer";
  if (typeof h.signature !== "string" || !SIGNATURE_B64.test(h.signature))
    return "signature is not 64 bytes in base64";
  if (typeof h.public_key !== "string" || !KEY_B64.test(h.public_key))
    return "public_key is not 32 bytes in base64";
  return undefined;
}
