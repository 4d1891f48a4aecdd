import type { KeyObject } from "node:crypto";
import { sha256Hex } from "../hash.js";
import { decodeBatchedSignature, encodeBatchedSignature } from "./batch-signature.js";
import { createBatchVerifier, signBatched } from "./sign-async.js";

/**
 * The broker signs each request it routes, so a connector acts only on what
 * a broker of the federation sent (a client that got onto NATS cannot forge
 * one) and only until the deadline the broker set. Ed25519 over:
 *
 *   "xbus-route/v1\n" exchange_id "\n" subject "\n" deadline_ms "\n" hex(SHA-256(body))
 *
 * Under load the broker signs a batch of routes at once (core/signing/batch-signature.ts);
 * the header then carries the batch proof with the signature, base64 of its
 * compact form.
 */
/**
 * The route as the connector passes it on to a gRPC adapter (README, "The adapter's side of a route"):
 * the signature exactly as in the NATS header (base64) and the deadline in milliseconds since the epoch,
 * decimal. The exchange id is the request's, the subject is "xbus.svc." + the request's service, and the
 * body is the request's bytes as received.
 */
export const RouteMetadata = {
  signature: "xbus-route-signature",
  deadline: "xbus-route-deadline",
} as const;

export interface RouteSignatureInput {
  exchangeId: string;
  subject: string;
  deadlineMs: number;
  body: Uint8Array;
}

function signedBytes(input: RouteSignatureInput): Buffer {
  const bodyHash = sha256Hex(input.body);
  return Buffer.from(
    `xbus-route/v1\n${input.exchangeId}\n${input.subject}\n${input.deadlineMs}\n${bodyHash}`,
  );
}

export async function signRoute(key: KeyObject, input: RouteSignatureInput): Promise<string> {
  return encodeBatchedSignature(await signBatched(signedBytes(input), key)).toString("base64");
}

/** Checks route signatures made by any of `keys` (the brokers a connector trusts), each batch once. */
export type RouteVerifier = (input: RouteSignatureInput, signature: string) => Promise<boolean>;

export function createRouteVerifier(keys: readonly KeyObject[]): RouteVerifier {
  const verifyBatch = createBatchVerifier(keys);
  return async (input, signature) => {
    // 64-byte signature ‖ 4 bytes ‖ at most 16 path hashes, in base64.
    if (signature.length === 0 || signature.length > 800) return false;
    const s = decodeBatchedSignature(Buffer.from(signature, "base64"));
    return s !== undefined && verifyBatch(signedBytes(input), s);
  };
}
