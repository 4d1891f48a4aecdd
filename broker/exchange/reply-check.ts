import { createHash, X509Certificate } from "node:crypto";
import type { ServiceName } from "../../core/contract/index.js";
import { parseWorkloadId, spiffeIdsFromSubjectAltName, type WorkloadId } from "../../core/contract/index.js";
import { XbusError } from "../../core/index.js";
import {
  batchedFromFields,
  createBatchVerifier,
  ed25519FromRaw,
  replySignedBytes,
  verifyDelegation,
  verifyReplyDirect,
} from "../../core/signing/index.js";
import type { ProviderSignature } from "../../proto/gen/xbus/v1/route_pb.js";

/**
 * The broker's check of what a provider's connector signed (issue 19, finding 4): a reply counts only
 * if its signature verifies against the connector's certificate, the certificate chains to the
 * federation's trust bundle, is valid now and not revoked, and names a connector of the service's
 * agency (its SPIFFE ID is the signer named). Unsigned replies are refused unless `allowUnsigned`
 * (a migration from connectors that do not sign yet).
 *
 * The certificate comes with the reply (RouteReply.signer_certificate); one that checked is kept by its
 * SHA-256, so a later reply may omit it, and the chain is checked once per certificate (again when the
 * trust bundle changes). Revocation and validity are checked on every reply. A delegated key's binding
 * is checked once per key; its batch roots once per batch.
 *
 * Every provider-supplied field is bounded before it is used or logged (BOUNDS); every refusal is
 * PROVIDER_BAD_RECORD in the broker's words.
 */
export interface ReplyCheckOptions {
  /** The trust bundle in force (PEM). */
  trustBundle: () => string;
  isRevoked: (serial: string) => boolean;
  trustDomain: string;
  /** Accept replies without a signature (they are logged without one). Default false. */
  allowUnsigned?: boolean;
  /** Certificates kept. Default 1024. */
  maxCertificates?: number;
}

export interface ReplyToCheck {
  exchangeId: string;
  service: ServiceName;
  typeUrl: string;
  /** SHA-256 of the record's bytes as received. */
  recordSha256: Uint8Array;
  signature: ProviderSignature | undefined;
  /** DER, when the connector sent it. */
  certificate: Uint8Array;
}

/** Resolves to the signature to log (undefined for an unsigned reply that is allowed), or throws. */
export type ReplyCheck = (reply: ReplyToCheck) => Promise<ProviderSignature | undefined>;

/** Sizes a provider may use, in bytes (strings: characters). */
export const BOUNDS = {
  signer: 256,
  hash: 32,
  /** RSA-4096 signs 512 bytes; Ed25519 64; ECDSA P-521 at most 139. */
  signature: 512,
  delegatedKey: 32,
  batchPath: 16,
  certificate: 8192,
} as const;

interface Checked {
  id: WorkloadId;
  serial: string;
  notBefore: number;
  notAfter: number;
  cert: X509Certificate;
  /** Per delegated key (hex) whose binding verified: its batch verifier. */
  delegated: Map<string, ReturnType<typeof createBatchVerifier>>;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function createReplyCheck(o: ReplyCheckOptions): ReplyCheck {
  const max = o.maxCertificates ?? 1024;
  const checked = new Map<string, Checked>();
  let bundleText = "";
  let bundle: X509Certificate[] = [];
  const trusted = () => {
    const now = o.trustBundle();
    if (now !== bundleText) {
      bundleText = now;
      bundle = (now.match(PEM_CERT) ?? []).map((b) => new X509Certificate(b));
      checked.clear();
    }
    return bundle;
  };

  const certificateOf = (
    r: ReplyToCheck,
    sig: ProviderSignature,
    refuse: (why: string) => never,
  ): Checked => {
    const cas = trusted();
    const key = Buffer.from(sig.certificateSha256).toString("hex");
    const known = checked.get(key);
    if (known) return known;
    if (r.certificate.length === 0) refuse("names a certificate it did not send");
    if (r.certificate.length > BOUNDS.certificate) refuse("sent an oversized certificate");
    if (!createHash("sha256").update(r.certificate).digest().equals(Buffer.from(sig.certificateSha256)))
      refuse("sent a certificate other than the one its signature names");
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(r.certificate);
    } catch {
      return refuse("sent a certificate that does not parse");
    }
    if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey)))
      refuse("was signed by a certificate the federation CA did not issue");
    const ids = spiffeIdsFromSubjectAltName(cert.subjectAltName);
    let id: WorkloadId | undefined;
    try {
      id = ids.length === 1 ? parseWorkloadId(ids[0] as string) : undefined;
    } catch {
      id = undefined;
    }
    if (!id || id.trustDomain !== o.trustDomain || id.role !== "connector")
      refuse("was signed by a certificate that is not a connector's");
    const entry: Checked = {
      id,
      serial: cert.serialNumber.toUpperCase(),
      notBefore: new Date(cert.validFrom).getTime(),
      notAfter: new Date(cert.validTo).getTime(),
      cert,
      delegated: new Map(),
    };
    if (checked.size >= max) checked.delete(checked.keys().next().value as string);
    checked.set(key, entry);
    return entry;
  };

  return async (r) => {
    const refuse = (why: string): never => {
      throw new XbusError("PROVIDER_BAD_RECORD", `${r.service.full} answered with a reply that ${why}`);
    };
    const sig = r.signature;
    if (!sig) {
      if (o.allowUnsigned) return undefined;
      return refuse("its connector did not sign");
    }
    if (
      sig.signer.length > BOUNDS.signer ||
      sig.certificateSha256.length !== BOUNDS.hash ||
      sig.recordSha256.length !== BOUNDS.hash ||
      sig.signature.length > BOUNDS.signature ||
      sig.delegation.length > BOUNDS.signature ||
      (sig.delegatedKey.length !== 0 && sig.delegatedKey.length !== BOUNDS.delegatedKey) ||
      sig.batchPath.length > BOUNDS.batchPath ||
      sig.batchPath.some((p) => p.length !== BOUNDS.hash)
    )
      refuse("carries a malformed signature");
    if (!Buffer.from(sig.recordSha256).equals(Buffer.from(r.recordSha256)))
      refuse("its connector did not sign (the record's hash differs)");
    const c = certificateOf(r, sig, refuse);
    const now = Date.now();
    if (now < c.notBefore || now > c.notAfter) refuse("was signed by a certificate not valid now");
    if (o.isRevoked(c.serial)) refuse("was signed by a revoked certificate");
    if (c.id.agency !== r.service.agency)
      refuse(`was signed by a connector of another agency than ${r.service.agency}`);
    if (sig.signer !== c.id.uri) refuse("names another signer than its certificate");
    const input = { exchangeId: r.exchangeId, typeUrl: r.typeUrl, recordSha256: r.recordSha256 };
    let ok: boolean;
    if (sig.delegatedKey.length === 0) {
      ok = sig.batchSize === 0 && verifyReplyDirect(c.cert.publicKey, input, sig.signature);
    } else {
      const hex = Buffer.from(sig.delegatedKey).toString("hex");
      let verifier = c.delegated.get(hex);
      if (!verifier) {
        if (!verifyDelegation(c.cert.publicKey, sig))
          refuse("carries a signing key its certificate did not bind");
        verifier = createBatchVerifier([ed25519FromRaw(sig.delegatedKey)], 256);
        // A certificate binds one key per connector process: a handful, unless someone is making them up.
        if (c.delegated.size >= 64) c.delegated.clear();
        c.delegated.set(hex, verifier);
      }
      ok = await verifier(replySignedBytes(input), batchedFromFields(sig));
    }
    if (!ok) refuse("carries a signature that does not verify");
    return sig;
  };
}
