import { createPrivateKey, createPublicKey, verify } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AuthorityKeyIdentifier,
  CertificateList,
  CRLNumber,
  CRLReason,
  id_ce_authorityKeyIdentifier,
  id_ce_cRLNumber,
  id_ce_cRLReasons,
  RevokedCertificate,
  TBSCertList,
  Time,
  Version,
} from "@peculiar/asn1-x509";
import { signatureAlgorithmOf } from "./key-type.js";
import {
  derOfPem,
  extension,
  hexOfInteger,
  integerBytes,
  nameDer,
  parseCertificatePem,
  pemOf,
  signCrl,
  subjectKeyIdentifierOf,
} from "./x509-der.js";

/**
 * X.509 v2 certificate revocation lists (RFC 5280 §5), built from the RFC 5280
 * schemas and signed with the CA's key (ECDSA, Ed25519 or RSA), as
 * certificates are in issue.ts. Nothing on the request path fetches a CRL from
 * anywhere: the file is local and reloaded when it changes.
 */

/** RFC 5280 §5.3.1 CRLReason. removeFromCRL (8) belongs to delta CRLs, which we do not issue. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export function isRevocationReason(value: string): value is RevocationReason {
  return Object.hasOwn(REVOCATION_REASONS, value);
}

export interface CrlEntry {
  /** Upper-case hex. */
  serial: string;
  revokedAt: Date;
  reason: RevocationReason;
}

export interface BuildCrlOptions {
  caCertPem: string;
  caKeyPem: string;
  entries: readonly CrlEntry[];
  /** Monotonic CRL number (RFC 5280 §5.2.3). */
  number: number;
  thisUpdate?: Date;
  /** When relying parties should expect the next CRL. Default 30 days after thisUpdate. */
  nextUpdate?: Date;
}

const DAY_MS = 86_400_000;

/** Builds and signs a v2 CRL; returns PEM. */
export function buildCrl(o: BuildCrlOptions): string {
  if (!Number.isSafeInteger(o.number) || o.number < 0) throw new Error(`bad CRL number ${o.number}`);
  const caCert = parseCertificatePem(o.caCertPem);
  const thisUpdate = o.thisUpdate ?? new Date(Date.now() - 60_000);
  const nextUpdate = o.nextUpdate ?? new Date(thisUpdate.getTime() + 30 * DAY_MS);
  if (nextUpdate.getTime() <= thisUpdate.getTime()) throw new Error("nextUpdate must be after thisUpdate");
  const revoked = [...o.entries]
    .sort((a, b) => a.revokedAt.getTime() - b.revokedAt.getTime())
    .map(
      (e) =>
        new RevokedCertificate({
          userCertificate: integerBytes(e.serial),
          revocationDate: new Time(e.revokedAt),
          // §5.3.1: the reason code SHOULD be absent rather than "unspecified".
          ...(e.reason !== "unspecified"
            ? {
                crlEntryExtensions: [
                  extension(id_ce_cRLReasons, false, new CRLReason(REVOCATION_REASONS[e.reason])),
                ],
              }
            : {}),
        }),
    );
  const tbs = new TBSCertList({
    version: Version.v2,
    issuer: caCert.tbsCertificate.subject,
    thisUpdate: new Time(thisUpdate),
    nextUpdate: new Time(nextUpdate),
    ...(revoked.length > 0 ? { revokedCertificates: revoked } : {}),
    crlExtensions: [
      extension(
        id_ce_authorityKeyIdentifier,
        false,
        new AuthorityKeyIdentifier({ keyIdentifier: subjectKeyIdentifierOf(caCert) }),
      ),
      extension(id_ce_cRLNumber, false, new CRLNumber(o.number)),
    ],
  });
  return pemOf("X509 CRL", signCrl(tbs, createPrivateKey(o.caKeyPem)));
}

export interface ParsedCrl {
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  number: number | undefined;
  /** Upper-case hex serial → entry. */
  revoked: ReadonlyMap<string, CrlEntry>;
}

const REASON_NAMES = new Map(
  (Object.keys(REVOCATION_REASONS) as RevocationReason[]).map((k) => [REVOCATION_REASONS[k] as number, k]),
);

function reasonOf(entry: RevokedCertificate): RevocationReason {
  const ext = entry.crlEntryExtensions?.find((e) => e.extnID === id_ce_cRLReasons);
  if (!ext) return "unspecified";
  return REASON_NAMES.get(AsnConvert.parse(ext.extnValue, CRLReason).reason) ?? "unspecified";
}

/** PEM or DER bytes of one CRL → DER. */
export function crlDer(input: string | Buffer): Buffer {
  const text = typeof input === "string" ? input : input.toString("latin1");
  if (text.includes("-----BEGIN X509 CRL-----")) return derOfPem(text, "X509 CRL");
  if (typeof input === "string") throw new Error("not a PEM X509 CRL");
  return input;
}

/**
 * Parses a CRL and checks its signature against the CA certificate. Throws,
 * naming the problem, when either fails: a CRL we cannot trust must not
 * replace the one in force.
 */
export function parseCrl(input: string | Buffer, caCertPem: string): ParsedCrl {
  let list: CertificateList;
  try {
    list = AsnConvert.parse(crlDer(input), CertificateList);
  } catch (err) {
    throw new Error(`not an X.509 CRL (${err instanceof Error ? err.message : String(err)})`);
  }
  const caCert = parseCertificatePem(caCertPem);
  const caKey = createPublicKey(caCertPem);
  // The algorithm is the one the CA's key signs with, never the one the CRL claims.
  const alg = signatureAlgorithmOf(caKey);
  const tbs = list.tbsCertList;
  const signedBytes = list.tbsCertListRaw;
  if (
    !signedBytes ||
    list.signatureAlgorithm.algorithm !== alg.oid ||
    tbs.signature.algorithm !== alg.oid ||
    !verify(alg.digest, new Uint8Array(signedBytes), caKey, new Uint8Array(list.signature))
  ) {
    throw new Error("CRL signature does not verify against the CA certificate");
  }
  if (!nameDer(tbs.issuer).equals(nameDer(caCert.tbsCertificate.subject))) {
    throw new Error("the CRL's issuer is not the CA certificate's subject");
  }
  const revoked = new Map<string, CrlEntry>();
  for (const entry of tbs.revokedCertificates ?? []) {
    const serial = hexOfInteger(entry.userCertificate);
    revoked.set(serial, { serial, revokedAt: entry.revocationDate.getTime(), reason: reasonOf(entry) });
  }
  const numberExt = tbs.crlExtensions?.find((e) => e.extnID === id_ce_cRLNumber);
  return {
    thisUpdate: tbs.thisUpdate.getTime(),
    nextUpdate: tbs.nextUpdate?.getTime(),
    number: numberExt ? AsnConvert.parse(numberExt.extnValue, CRLNumber).value : undefined,
    revoked,
  };
}
