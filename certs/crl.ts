import { createPublicKey, sign, verify } from "node:crypto";
import forge from "node-forge";

/**
 * X.509 v2 certificate revocation lists (RFC 5280 §5). node-forge has no CRL
 * builder, so the structure is written with forge.asn1 and signed with Node's
 * native RSA, as certificates are in issue.ts. Nothing on the request path
 * fetches a CRL from anywhere: the file is local and reloaded when it changes.
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

const OID = {
  sha256WithRSA: forge.pki.oids.sha256WithRSAEncryption as string,
  crlNumber: "2.5.29.20",
  reasonCode: "2.5.29.21",
  authorityKeyIdentifier: "2.5.29.35",
};
const { Class, Type } = forge.asn1;
const asn1 = forge.asn1;
const DAY_MS = 86_400_000;

function der(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), "binary");
}

/** A non-negative INTEGER's content octets from hex, with a leading zero when the top bit is set. */
function integerBytes(hex: string): string {
  let h = hex.length % 2 === 0 ? hex : `0${hex}`;
  if (Number.parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`;
  return forge.util.hexToBytes(h);
}

function time(date: Date): forge.asn1.Asn1 {
  // RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050.
  return date.getUTCFullYear() < 2050
    ? asn1.create(Class.UNIVERSAL, Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(Class.UNIVERSAL, Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

function extension(oid: string, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
    asn1.create(Class.UNIVERSAL, Type.OID, false, asn1.oidToDer(oid).getBytes()),
    asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, asn1.toDer(value).getBytes()),
  ]);
}

function algorithm(): forge.asn1.Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
    asn1.create(Class.UNIVERSAL, Type.OID, false, asn1.oidToDer(OID.sha256WithRSA).getBytes()),
    asn1.create(Class.UNIVERSAL, Type.NULL, false, ""),
  ]);
}

/** Builds and signs a v2 CRL; returns PEM. */
export function buildCrl(o: BuildCrlOptions): string {
  if (!Number.isSafeInteger(o.number) || o.number < 0) throw new Error(`bad CRL number ${o.number}`);
  const caCert = forge.pki.certificateFromPem(o.caCertPem);
  const thisUpdate = o.thisUpdate ?? new Date(Date.now() - 60_000);
  const nextUpdate = o.nextUpdate ?? new Date(thisUpdate.getTime() + 30 * DAY_MS);
  if (nextUpdate.getTime() <= thisUpdate.getTime()) throw new Error("nextUpdate must be after thisUpdate");

  const revoked = [...o.entries]
    .sort((a, b) => a.revokedAt.getTime() - b.revokedAt.getTime())
    .map((e) => {
      const fields = [
        asn1.create(Class.UNIVERSAL, Type.INTEGER, false, integerBytes(e.serial)),
        time(e.revokedAt),
      ];
      // §5.3.1: the reason code SHOULD be absent rather than "unspecified".
      if (e.reason !== "unspecified") {
        const code = asn1.create(
          Class.UNIVERSAL,
          Type.ENUMERATED,
          false,
          String.fromCharCode(REVOCATION_REASONS[e.reason]),
        );
        fields.push(asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [extension(OID.reasonCode, code)]));
      }
      return asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, fields);
    });

  const aki = asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
    asn1.create(Class.CONTEXT_SPECIFIC, 0, false, caCert.generateSubjectKeyIdentifier().getBytes()),
  ]);
  const crlNumber = asn1.create(Class.UNIVERSAL, Type.INTEGER, false, integerBytes(o.number.toString(16)));
  const tbs = asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
    asn1.create(Class.UNIVERSAL, Type.INTEGER, false, String.fromCharCode(1)), // v2
    algorithm(),
    forge.pki.distinguishedNameToAsn1(caCert.subject),
    time(thisUpdate),
    time(nextUpdate),
    ...(revoked.length > 0 ? [asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, revoked)] : []),
    asn1.create(Class.CONTEXT_SPECIFIC, 0, true, [
      asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
        extension(OID.authorityKeyIdentifier, aki),
        extension(OID.crlNumber, crlNumber),
      ]),
    ]),
  ]);
  const signature = sign("sha256", der(tbs), o.caKeyPem);
  const list = asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
    tbs,
    algorithm(),
    asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, `\u0000${signature.toString("binary")}`),
  ]);
  const b64 = der(list).toString("base64");
  return `-----BEGIN X509 CRL-----\n${b64.match(/.{1,64}/g)?.join("\n")}\n-----END X509 CRL-----\n`;
}

export interface ParsedCrl {
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  number: number | undefined;
  /** Upper-case hex serial → entry. */
  revoked: ReadonlyMap<string, CrlEntry>;
}

function timeOf(node: forge.asn1.Asn1 | undefined): Date {
  if (!node || typeof node.value !== "string") throw new Error("CRL: missing time");
  if (node.type === Type.UTCTIME) return asn1.utcTimeToDate(node.value);
  if (node.type === Type.GENERALIZEDTIME) return asn1.generalizedTimeToDate(node.value);
  throw new Error("CRL: bad time");
}

function children(node: forge.asn1.Asn1 | undefined, what: string): forge.asn1.Asn1[] {
  if (!node || !Array.isArray(node.value)) throw new Error(`CRL: ${what} is not a sequence`);
  return node.value;
}

function hexOfInteger(node: forge.asn1.Asn1 | undefined): string {
  if (!node || node.type !== Type.INTEGER || typeof node.value !== "string")
    throw new Error("CRL: bad serial");
  const hex = forge.util.bytesToHex(node.value).replace(/^0+(?=.)/, "");
  return hex.toUpperCase();
}

function reasonOf(entryExtensions: forge.asn1.Asn1 | undefined): RevocationReason {
  if (!entryExtensions) return "unspecified";
  for (const ext of children(entryExtensions, "entry extensions")) {
    const [oid, ...rest] = children(ext, "extension");
    if (!oid || typeof oid.value !== "string" || asn1.derToOid(oid.value) !== OID.reasonCode) continue;
    const octets = rest.at(-1);
    if (!octets || typeof octets.value !== "string") continue;
    const code = asn1.fromDer(octets.value).value;
    const n = typeof code === "string" ? code.charCodeAt(0) : -1;
    const name = (Object.keys(REVOCATION_REASONS) as RevocationReason[]).find(
      (k) => REVOCATION_REASONS[k] === n,
    );
    return name ?? "unspecified";
  }
  return "unspecified";
}

/** PEM or DER bytes of one CRL → DER. */
export function crlDer(input: string | Buffer): Buffer {
  const text = typeof input === "string" ? input : input.toString("latin1");
  const m = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----/.exec(text);
  if (m?.[1]) return Buffer.from(m[1].replace(/\s+/g, ""), "base64");
  if (typeof input === "string") throw new Error("not a PEM X509 CRL");
  return input;
}

/**
 * Parses a CRL and checks its signature against the CA certificate. Throws,
 * naming the problem, when either fails: a CRL we cannot trust must not
 * replace the one in force.
 */
export function parseCrl(input: string | Buffer, caCertPem: string): ParsedCrl {
  const root = asn1.fromDer(forge.util.createBuffer(crlDer(input).toString("binary")));
  const [tbs, , sigNode] = children(root, "CertificateList");
  if (!tbs || !sigNode || typeof sigNode.value !== "string") throw new Error("CRL: truncated");
  const signature = Buffer.from(sigNode.value.slice(1), "binary");
  const caKey = createPublicKey(caCertPem);
  if (!verify("sha256", der(tbs), caKey, signature)) {
    throw new Error("CRL signature does not verify against the CA certificate");
  }
  const fields = children(tbs, "TBSCertList");
  let i = 0;
  if (fields[i]?.type === Type.INTEGER) i++; // version
  i += 2; // signature algorithm, issuer
  const thisUpdate = timeOf(fields[i++]);
  let nextUpdate: Date | undefined;
  const maybeNext = fields[i];
  if (maybeNext && (maybeNext.type === Type.UTCTIME || maybeNext.type === Type.GENERALIZEDTIME)) {
    nextUpdate = timeOf(maybeNext);
    i++;
  }
  const revoked = new Map<string, CrlEntry>();
  const list = fields[i];
  if (list && list.tagClass === Class.UNIVERSAL && list.type === Type.SEQUENCE) {
    for (const entry of children(list, "revokedCertificates")) {
      const [serialNode, dateNode, exts] = children(entry, "revoked entry");
      const serial = hexOfInteger(serialNode);
      revoked.set(serial, { serial, revokedAt: timeOf(dateNode), reason: reasonOf(exts) });
    }
    i++;
  }
  let number: number | undefined;
  const extsWrapper = fields[i];
  if (extsWrapper && extsWrapper.tagClass === Class.CONTEXT_SPECIFIC) {
    for (const ext of children(children(extsWrapper, "crlExtensions")[0], "extensions")) {
      const [oid, ...rest] = children(ext, "extension");
      if (!oid || typeof oid.value !== "string" || asn1.derToOid(oid.value) !== OID.crlNumber) continue;
      const octets = rest.at(-1);
      if (octets && typeof octets.value === "string") {
        number = Number.parseInt(hexOfInteger(asn1.fromDer(octets.value)), 16);
      }
    }
  }
  return { thisUpdate, nextUpdate, number, revoked };
}
