import { X509Certificate } from "node:crypto";
import { parseWorkloadId, spiffeIdsFromSubjectAltName } from "../core/contract/index.js";

/** What a certificate says, in the terms of the federation. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  serial: string;
  spiffeId: string | null;
  /** From the SPIFFE ID's path; null when there is none or it is not a workload ID. */
  role: string | null;
  dnsNames: string[];
  ipAddresses: string[];
  isCa: boolean;
  /** Extended key usages by name: serverAuth, clientAuth (other OIDs as they are). */
  extKeyUsage: string[];
  notBefore: string;
  notAfter: string;
  /** Whole days until notAfter, negative once expired. */
  daysToExpiry: number;
  fingerprintSha256: string;
}

const EKU: Record<string, string> = { "1.3.6.1.5.5.7.3.1": "serverAuth", "1.3.6.1.5.5.7.3.2": "clientAuth" };

/** The first certificate of a PEM file. */
export function inspectCertificate(pem: string | Buffer, now = new Date()): CertificateInfo {
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch {
    throw new Error("not a PEM or DER X.509 certificate");
  }
  const san = x.subjectAltName ?? "";
  const ids = spiffeIdsFromSubjectAltName(san);
  const spiffeId = ids[0] ?? null;
  let role: string | null = null;
  if (spiffeId) {
    try {
      role = parseWorkloadId(spiffeId).role;
    } catch {
      role = null;
    }
  }
  const entries = san ? san.split(", ") : [];
  return {
    subject: x.subject.replace(/\n/g, ", "),
    issuer: x.issuer.replace(/\n/g, ", "),
    serial: x.serialNumber.toUpperCase(),
    spiffeId,
    role,
    dnsNames: entries.filter((e) => e.startsWith("DNS:")).map((e) => e.slice(4)),
    ipAddresses: entries.filter((e) => e.startsWith("IP Address:")).map((e) => e.slice(11)),
    isCa: x.ca,
    extKeyUsage: (x.keyUsage ?? []).map((oid) => EKU[oid] ?? oid),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    daysToExpiry: Math.floor((new Date(x.validTo).getTime() - now.getTime()) / 86_400_000),
    fingerprintSha256: x.fingerprint256,
  };
}

export function formatCertificateInfo(i: CertificateInfo): string {
  const rows: [string, string][] = [
    ["subject", i.subject],
    ["issuer", i.issuer],
    ["serial", i.serial],
    ["spiffe id", i.spiffeId ?? "(none)"],
    ["role", i.role ?? "(none)"],
    ["dns names", i.dnsNames.join(", ") || "(none)"],
    ["ip addresses", i.ipAddresses.join(", ") || "(none)"],
    ["ca", i.isCa ? "yes" : "no"],
    ["ext key usage", i.extKeyUsage.join(", ") || "(any)"],
    ["not before", i.notBefore],
    [
      "not after",
      `${i.notAfter} (${i.daysToExpiry < 0 ? `expired ${-i.daysToExpiry} days ago` : `${i.daysToExpiry} days left`})`,
    ],
    ["sha-256", i.fingerprintSha256],
  ];
  return rows.map(([k, v]) => `${k.padEnd(14)}${v}`).join("\n");
}
