import { generateKeyPairSync, type KeyObject, sign, verify, X509Certificate } from "node:crypto";
import { spiffeIdsFromSubjectAltName } from "../contract/index.js";
import { sha256 } from "../hash.js";
import { type BatchedSignature, batchedFromFields, batchSignedBytes } from "./batch-signature.js";
import { ed25519FromRaw, rawEd25519 } from "./ed25519-raw.js";
import { signBatched } from "./sign-async.js";

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
  /** The signer's certificate, DER: sent with each reply so the broker can verify it (RouteReply.signer_certificate). */
  readonly certificate: Uint8Array;
  readonly certificateSha256: Uint8Array;
  /** Raw Ed25519 public key that `sign` uses, bound to the certificate by `delegation`. */
  readonly delegatedKey: Uint8Array;
  readonly delegation: Uint8Array;
  /** Made off the event loop; under load one signature covers a batch of records (core/signing/batch-signature.ts). */
  sign(input: ReplySignatureInput): Promise<BatchedSignature>;
}

/** What a verifier needs from a ProviderSignature. */
export interface ReplySignatureEvidence {
  signer: string;
  certificateSha256: Uint8Array;
  signature: Uint8Array;
  delegatedKey: Uint8Array;
  delegation: Uint8Array;
  /** Batch proof (core/signing/batch-signature.ts); batchSize 0 when the signature covers this record alone. */
  batchIndex: number;
  batchSize: number;
  batchPath: Uint8Array[];
}

function delegationBytes(signer: string, certificateSha256: Uint8Array, delegatedKey: Uint8Array): Buffer {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  return Buffer.from(`xbus-reply-key/v1\n${signer}\n${hex(certificateSha256)}\n${hex(delegatedKey)}`);
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

export { sha256 } from "../hash.js";

/**
 * A signer from a certificate (PEM) and its private key, the certificate
 * carrying one SPIFFE ID. The certificate's key signs once, at creation, a
 * fresh Ed25519 key (a delegation); every record is then signed with that
 * Ed25519 key, ~60 µs instead of ~1 ms for RSA-2048.
 */
export function createReplySigner(certificatePem: string, key: KeyObject): ReplySigner {
  const cert = new X509Certificate(certificatePem);
  const ids = spiffeIdsFromSubjectAltName(cert.subjectAltName);
  if (ids.length !== 1 || !ids[0])
    throw new Error("the signing certificate must carry exactly one SPIFFE ID");
  if (!cert.checkPrivateKey(key)) throw new Error("the signing key does not belong to the certificate");
  const signer = ids[0];
  const certificateSha256 = sha256(cert.raw);
  const pair = generateKeyPairSync("ed25519");
  const delegatedKey = rawEd25519(pair.publicKey);
  return {
    signer,
    certificate: cert.raw,
    certificateSha256,
    delegatedKey,
    delegation: sign(digestFor(key), delegationBytes(signer, certificateSha256, delegatedKey), key),
    sign: (input) => signBatched(signedBytes(input), pair.privateKey),
  };
}

/** True when `certKey` (a certificate's) bound `evidence.delegatedKey` to that signer and certificate. */
export function verifyDelegation(
  certKey: KeyObject,
  evidence: Pick<ReplySignatureEvidence, "signer" | "certificateSha256" | "delegatedKey" | "delegation">,
): boolean {
  return verify(
    digestFor(certKey),
    delegationBytes(evidence.signer, evidence.certificateSha256, evidence.delegatedKey),
    certKey,
    evidence.delegation,
  );
}

/** True when `certKey` itself (no delegation, no batch) signed `input`. */
export function verifyReplyDirect(
  certKey: KeyObject,
  input: ReplySignatureInput,
  signature: Uint8Array,
): boolean {
  return verify(digestFor(certKey), signedBytes(input), certKey, signature);
}

/** The bytes a reply signature covers (see the top of this file). */
export function replySignedBytes(input: ReplySignatureInput): Buffer {
  return signedBytes(input);
}

/**
 * True when `evidence` proves the certificate's holder signed `input`: directly
 * with the certificate's key, or with a delegated Ed25519 key whose delegation
 * the certificate's key signed, alone or in a batch (core/signing/batch-signature.ts).
 * The certificate must be the one named. Batches are made only with a
 * delegated key.
 */
export function verifyReply(
  certificatePem: string,
  input: ReplySignatureInput,
  evidence: ReplySignatureEvidence,
): boolean {
  const cert = new X509Certificate(certificatePem);
  if (Buffer.compare(sha256(cert.raw), Buffer.from(evidence.certificateSha256)) !== 0) return false;
  const certKey = cert.publicKey;
  if (evidence.delegatedKey.length === 0) {
    return (
      evidence.batchSize === 0 && verify(digestFor(certKey), signedBytes(input), certKey, evidence.signature)
    );
  }
  if (evidence.delegatedKey.length !== 32) return false;
  const bound = verify(
    digestFor(certKey),
    delegationBytes(evidence.signer, evidence.certificateSha256, evidence.delegatedKey),
    certKey,
    evidence.delegation,
  );
  if (!bound) return false;
  const signed = batchSignedBytes(signedBytes(input), batchedFromFields(evidence));
  return (
    signed !== undefined && verify(null, signed, ed25519FromRaw(evidence.delegatedKey), evidence.signature)
  );
}
