import { createHash, type KeyObject, sign, verify, X509Certificate } from "node:crypto";
import { spiffeIdsFromSubjectAltName } from "./spiffe-id.js";

/**
 * A connector signs each record it returns, so the broker can log what the
 * provider said and a later dispute can be settled against the provider's
 * own key. The signature covers the exchange and the hash of the record's
 * bytes, never the record itself:
 *
 *   "xbus-reply/v1\n" exchange_id "\n" type_url "\n" hex(SHA-256(record bytes))
 */
export interface ReplySignatureInput {
  exchangeId: string;
  typeUrl: string;
  recordSha256: Uint8Array;
}

export interface ReplySigner {
  /** SPIFFE ID in the signer's certificate. */
  readonly signer: string;
  readonly certificateSha256: Uint8Array;
  sign(input: ReplySignatureInput): Uint8Array;
}

function signedBytes(input: ReplySignatureInput): Buffer {
  return Buffer.from(
    `xbus-reply/v1\n${input.exchangeId}\n${input.typeUrl}\n${Buffer.from(input.recordSha256).toString("hex")}`,
  );
}

/** Ed25519 and Ed448 take no digest; RSA and EC sign SHA-256. */
function digestFor(key: KeyObject): string | null {
  return key.asymmetricKeyType === "ed25519" || key.asymmetricKeyType === "ed448" ? null : "sha256";
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

/** A signer from a certificate (PEM) and its private key; the certificate must carry one SPIFFE ID. */
export function createReplySigner(certificatePem: string, key: KeyObject): ReplySigner {
  const cert = new X509Certificate(certificatePem);
  const ids = spiffeIdsFromSubjectAltName(cert.subjectAltName);
  if (ids.length !== 1 || !ids[0])
    throw new Error("the signing certificate must carry exactly one SPIFFE ID");
  if (!cert.checkPrivateKey(key)) throw new Error("the signing key does not belong to the certificate");
  return {
    signer: ids[0],
    certificateSha256: sha256(cert.raw),
    sign: (input) => sign(digestFor(key), signedBytes(input), key),
  };
}

/** True when the certificate's key made `signature` over `input`. */
export function verifyReply(
  certificatePem: string,
  input: ReplySignatureInput,
  signature: Uint8Array,
): boolean {
  const key = new X509Certificate(certificatePem).publicKey;
  return verify(digestFor(key), signedBytes(input), key, signature);
}
