import type { KeyObject } from "node:crypto";
import { sha256Hex } from "./hash.js";
import { signEd25519, verifyEd25519 } from "./sign-async.js";

/**
 * The broker signs each request it routes, so a connector acts only on what
 * a broker of the federation sent (a client that got onto NATS cannot forge
 * one) and only until the deadline the broker set. Ed25519 over:
 *
 *   "xbus-route/v1\n" exchange_id "\n" subject "\n" deadline_ms "\n" hex(SHA-256(body))
 */
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
  return (await signEd25519(signedBytes(input), key)).toString("base64");
}

/** True when any of `keys` (the brokers this connector trusts) made `signature`. */
export async function verifyRoute(
  keys: readonly KeyObject[],
  input: RouteSignatureInput,
  signature: string,
): Promise<boolean> {
  if (signature.length === 0 || signature.length > 200) return false;
  const sig = Buffer.from(signature, "base64");
  if (sig.length !== 64) return false;
  const data = signedBytes(input);
  for (const k of keys) if (await verifyEd25519(data, k, sig)) return true;
  return false;
}
