import { createHash, type KeyObject, sign, verify } from "node:crypto";

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
  const bodyHash = createHash("sha256").update(input.body).digest("hex");
  return Buffer.from(
    `xbus-route/v1\n${input.exchangeId}\n${input.subject}\n${input.deadlineMs}\n${bodyHash}`,
  );
}

export function signRoute(key: KeyObject, input: RouteSignatureInput): string {
  return sign(null, signedBytes(input), key).toString("base64");
}

/** True when any of `keys` (the brokers this connector trusts) made `signature`. */
export function verifyRoute(
  keys: readonly KeyObject[],
  input: RouteSignatureInput,
  signature: string,
): boolean {
  if (signature.length === 0 || signature.length > 200) return false;
  const sig = Buffer.from(signature, "base64");
  const data = signedBytes(input);
  return keys.some((k) => verify(null, data, k, sig));
}
