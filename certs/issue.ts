import { generateKeyPairSync, randomBytes, sign, X509Certificate } from "node:crypto";
import forge from "node-forge";
import { parseWorkloadId } from "../core/contract/index.js";

/**
 * The federation PKI's issuing functions. node-forge builds and signs the
 * certificates; keys come from Node's native RSA generator, which is ~50×
 * faster than forge's pure-JS one.
 */
export interface CertificateAuthority {
  readonly trustDomain: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export type CertUsage = "client" | "server" | "client-server";

export interface IssueOptions {
  /** The SPIFFE ID for the URI SAN; must be in the CA's trust domain. Omit for a certificate without one. */
  spiffeId?: string;
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: CertUsage;
  /** Default 90 days. */
  validityDays?: number;
  /** Default now minus one minute, for clock skew between machines. */
  notBefore?: Date;
  /** Overrides validityDays. */
  notAfter?: Date;
}

export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** Upper-case hex, as Node's PeerCertificate.serialNumber shows it. */
  readonly serial: string;
  readonly spiffeId: string | undefined;
  readonly notAfter: Date;
}

const DAY_MS = 86_400_000;

function newKeyPair(): { publicKey: forge.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString()),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

// Exported by node-forge but missing from its type definitions.
const getTBSCertificate = (
  forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }
).getTBSCertificate;

/**
 * Signs like forge's cert.sign(key, sha256) but with Node's native RSA, which
 * is ~50× faster than forge's BigInteger arithmetic.
 */
function signCertificate(cert: forge.pki.Certificate, signerKeyPem: string): void {
  const oid = forge.pki.oids.sha256WithRSAEncryption as string;
  cert.siginfo.algorithmOid = oid;
  cert.signatureOid = oid;
  const tbs = forge.asn1.toDer(getTBSCertificate(cert)).getBytes();
  cert.signature = sign("sha256", Buffer.from(tbs, "binary"), signerKeyPem).toString("binary");
}

/** A positive 127-bit serial, hex with an even number of digits as forge wants. */
function newSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x10;
  return b.toString("hex");
}

export interface CreateCaOptions {
  trustDomain: string;
  commonName?: string;
  /** Default 10 years. */
  validityDays?: number;
  notBefore?: Date;
}

/** Makes a self-signed federation root CA for a trust domain. */
export function createCa(options: CreateCaOptions): CertificateAuthority {
  parseWorkloadId(`spiffe://${options.trustDomain}/xbus/broker/check`); // validates the trust domain
  const { publicKey, keyPem } = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = newSerial();
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + (options.validityDays ?? 3650) * DAY_MS);
  const name = [
    { name: "commonName", value: options.commonName ?? `${options.trustDomain} federation CA` },
    { name: "organizationName", value: options.trustDomain },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true, pathLenConstraint: 1 },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
    // URI name constraints would be ideal here, but forge cannot encode them; the trust domain is checked on issue and on use.
  ]);
  signCertificate(cert, keyPem);
  return { trustDomain: options.trustDomain, certPem: forge.pki.certificateToPem(cert), keyPem };
}

export interface CreateIntermediateOptions {
  commonName?: string;
  /** Default 5 years, and never past the root's own validity. */
  validityDays?: number;
}

/**
 * An issuing CA signed by the root, so the root's key can stay offline: it
 * signs only this certificate and the root's CRL. Path length 0: it issues
 * leaves, never another CA.
 */
export function createIntermediate(
  root: CertificateAuthority,
  options: CreateIntermediateOptions = {},
): CertificateAuthority {
  const rootCert = forge.pki.certificateFromPem(root.certPem);
  const { publicKey, keyPem } = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = newSerial();
  const notBefore = new Date(Date.now() - 60_000);
  const wanted = notBefore.getTime() + (options.validityDays ?? 1825) * DAY_MS;
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(Math.min(wanted, rootCert.validity.notAfter.getTime()));
  cert.setSubject([
    { name: "commonName", value: options.commonName ?? `${root.trustDomain} issuing CA` },
    { name: "organizationName", value: root.trustDomain },
  ]);
  cert.setIssuer(rootCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true, pathLenConstraint: 0 },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: rootCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  signCertificate(cert, root.keyPem);
  return { trustDomain: root.trustDomain, certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** Issues a leaf certificate signed by `ca`. Throws, naming the problem, on a SPIFFE ID outside the trust domain. */
export function issueCertificate(ca: CertificateAuthority, options: IssueOptions): IssuedCertificate {
  if (options.spiffeId !== undefined) {
    const id = parseWorkloadId(options.spiffeId);
    if (id.trustDomain !== ca.trustDomain) {
      throw new Error(`SPIFFE ID ${options.spiffeId} is outside the CA's trust domain ${ca.trustDomain}`);
    }
  }
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const { publicKey, keyPem } = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = newSerial();
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + (options.validityDays ?? 90) * DAY_MS);
  if (notAfter.getTime() > caCert.validity.notAfter.getTime()) {
    throw new Error(
      `validity ends ${notAfter.toISOString()}, after the CA's own (${caCert.validity.notAfter.toISOString()})`,
    );
  }
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([
    { name: "commonName", value: options.commonName },
    { name: "organizationName", value: ca.trustDomain },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames: { type: number; value?: string; ip?: string }[] = [];
  if (options.spiffeId) altNames.push({ type: 6, value: options.spiffeId });
  for (const dns of options.dnsNames ?? []) altNames.push({ type: 2, value: dns });
  for (const ip of options.ipAddresses ?? []) altNames.push({ type: 7, ip });
  const extensions: object[] = [
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    {
      name: "extKeyUsage",
      serverAuth: options.usage !== "client",
      clientAuth: options.usage !== "server",
    },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  // SPIFFE X509-SVID: the SAN holds the ID; mark it critical when the subject name is not the identity.
  if (altNames.length > 0) extensions.push({ name: "subjectAltName", altNames });
  cert.setExtensions(extensions);
  signCertificate(cert, ca.keyPem);
  const certPem = forge.pki.certificateToPem(cert);
  return {
    certPem,
    keyPem,
    serial: new X509Certificate(certPem).serialNumber.toUpperCase(),
    spiffeId: options.spiffeId,
    notAfter,
  };
}
