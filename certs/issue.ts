import { createPrivateKey, createPublicKey, type KeyObject, randomBytes } from "node:crypto";
import {
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  type Certificate,
  ExtendedKeyUsage,
  type Extension,
  Extensions,
  GeneralName,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";
import { parseWorkloadId } from "../core/contract/index.js";
import { DEFAULT_KEY_TYPE, generatePrivateKey, type KeyType, keyTypeOf } from "./key-type.js";
import {
  extension,
  integerBytes,
  keyIdentifierOf,
  parseCertificatePem,
  pemOf,
  signCertificate,
  spkiOf,
  subjectKeyIdentifierOf,
} from "./x509-der.js";

/**
 * The federation PKI's issuing functions: certificates built from the RFC 5280
 * schemas (x509-der.ts) and signed by Node's native crypto, with ECDSA P-256,
 * Ed25519 or RSA-2048 keys (key-type.ts). A CA of any of the three issues
 * certificates of any of them.
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
  /** The new key's type. Default ECDSA P-256. */
  keyType?: KeyType;
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
const OID_CN = "2.5.4.3";
const OID_O = "2.5.4.10";

function newKey(type: KeyType | undefined): { privateKey: KeyObject; keyPem: string } {
  const privateKey = generatePrivateKey(type ?? DEFAULT_KEY_TYPE);
  return { privateKey, keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
}

/** The CA's signing key, refused with its reason when the federation does not sign with its kind. */
function signingKey(ca: { keyPem: string }): KeyObject {
  const key = createPrivateKey(ca.keyPem);
  keyTypeOf(key);
  return key;
}

/** A positive 127-bit serial. */
function newSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x10;
  return b.toString("hex");
}

function name(commonName: string, organization: string): Name {
  const rdn = (type: string, value: string) =>
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) }),
    ]);
  return new Name([rdn(OID_CN, commonName), rdn(OID_O, organization)]);
}

interface CertificateParts {
  subject: Name;
  issuer: Name;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Extension[];
  signer: KeyObject;
}

function certificatePem(p: CertificateParts): { pem: string; serial: string } {
  const serial = newSerial();
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: integerBytes(serial),
    issuer: p.issuer,
    subject: p.subject,
    validity: new Validity({ notBefore: p.notBefore, notAfter: p.notAfter }),
    subjectPublicKeyInfo: spkiOf(p.publicKey),
    extensions: new Extensions(p.extensions),
  });
  return { pem: pemOf("CERTIFICATE", signCertificate(tbs, p.signer)), serial: serial.toUpperCase() };
}

/**
 * The issuing CA's certificate, parsed once: a CA issues many certificates in
 * a row (a test or dev stack about a dozen) and the ASN.1 parse costs several
 * times the signature. Keyed by the PEM, so another CA is parsed anew.
 */
let lastCa: { pem: string; cert: Certificate } | undefined;
function caCertificate(pem: string): Certificate {
  if (lastCa?.pem !== pem) lastCa = { pem, cert: parseCertificatePem(pem) };
  return lastCa.cert;
}

function caExtensions(publicKey: KeyObject, pathLength: number): Extension[] {
  return [
    extension(
      id_ce_basicConstraints,
      true,
      new BasicConstraints({ cA: true, pathLenConstraint: pathLength }),
    ),
    extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
    extension(id_ce_subjectKeyIdentifier, false, keyIdentifierOf(spkiOf(publicKey))),
  ];
}

export interface CreateCaOptions {
  trustDomain: string;
  commonName?: string;
  /** Default 10 years. */
  validityDays?: number;
  notBefore?: Date;
  /** Default ECDSA P-256. */
  keyType?: KeyType;
}

/** Makes a self-signed federation root CA for a trust domain. */
export function createCa(options: CreateCaOptions): CertificateAuthority {
  parseWorkloadId(`spiffe://${options.trustDomain}/xbus/broker/check`); // validates the trust domain
  const { privateKey, keyPem } = newKey(options.keyType);
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const subject = name(options.commonName ?? `${options.trustDomain} federation CA`, options.trustDomain);
  const publicKey = createPublicKey(privateKey);
  const { pem: certPem } = certificatePem({
    subject,
    issuer: subject,
    publicKey,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.validityDays ?? 3650) * DAY_MS),
    // URI name constraints would pin the CA to its trust domain; the trust domain is checked on issue and on use.
    extensions: caExtensions(publicKey, 1),
    signer: privateKey,
  });
  return { trustDomain: options.trustDomain, certPem, keyPem };
}

export interface CreateIntermediateOptions {
  commonName?: string;
  /** Default 5 years, and never past the root's own validity. */
  validityDays?: number;
  /** Default ECDSA P-256. */
  keyType?: KeyType;
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
  const rootCert = caCertificate(root.certPem);
  const { privateKey, keyPem } = newKey(options.keyType);
  const publicKey = createPublicKey(privateKey);
  const notBefore = new Date(Date.now() - 60_000);
  const wanted = notBefore.getTime() + (options.validityDays ?? 1825) * DAY_MS;
  const rootNotAfter = rootCert.tbsCertificate.validity.notAfter.getTime().getTime();
  const { pem: certPem } = certificatePem({
    subject: name(options.commonName ?? `${root.trustDomain} issuing CA`, root.trustDomain),
    issuer: rootCert.tbsCertificate.subject,
    publicKey,
    notBefore,
    notAfter: new Date(Math.min(wanted, rootNotAfter)),
    extensions: [
      ...caExtensions(publicKey, 0),
      extension(
        id_ce_authorityKeyIdentifier,
        false,
        new AuthorityKeyIdentifier({ keyIdentifier: subjectKeyIdentifierOf(rootCert) }),
      ),
    ],
    signer: signingKey(root),
  });
  return { trustDomain: root.trustDomain, certPem, keyPem };
}

/** Issues a leaf certificate signed by `ca`. Throws, naming the problem, on a SPIFFE ID outside the trust domain. */
export function issueCertificate(ca: CertificateAuthority, options: IssueOptions): IssuedCertificate {
  if (options.spiffeId !== undefined) {
    const id = parseWorkloadId(options.spiffeId);
    if (id.trustDomain !== ca.trustDomain) {
      throw new Error(`SPIFFE ID ${options.spiffeId} is outside the CA's trust domain ${ca.trustDomain}`);
    }
  }
  const caCert = caCertificate(ca.certPem);
  const caNotAfter = caCert.tbsCertificate.validity.notAfter.getTime();
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + (options.validityDays ?? 90) * DAY_MS);
  if (notAfter.getTime() > caNotAfter.getTime()) {
    throw new Error(
      `validity ends ${notAfter.toISOString()}, after the CA's own (${caNotAfter.toISOString()})`,
    );
  }
  const signer = signingKey(ca);
  const { privateKey, keyPem } = newKey(options.keyType);
  const publicKey = createPublicKey(privateKey);
  const altNames: GeneralName[] = [];
  if (options.spiffeId) altNames.push(new GeneralName({ uniformResourceIdentifier: options.spiffeId }));
  for (const dns of options.dnsNames ?? []) altNames.push(new GeneralName({ dNSName: dns }));
  for (const ip of options.ipAddresses ?? []) altNames.push(new GeneralName({ iPAddress: ip }));
  // keyEncipherment is RSA key transport; an EC or Ed25519 key only signs.
  const usage =
    keyTypeOf(privateKey) === "rsa"
      ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment
      : KeyUsageFlags.digitalSignature;
  const purposes = [
    ...(options.usage !== "client" ? [id_kp_serverAuth] : []),
    ...(options.usage !== "server" ? [id_kp_clientAuth] : []),
  ];
  const extensions = [
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
    extension(id_ce_keyUsage, true, new KeyUsage(usage)),
    extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage(purposes)),
    extension(id_ce_subjectKeyIdentifier, false, keyIdentifierOf(spkiOf(publicKey))),
    extension(
      id_ce_authorityKeyIdentifier,
      false,
      new AuthorityKeyIdentifier({ keyIdentifier: subjectKeyIdentifierOf(caCert) }),
    ),
    // SPIFFE X509-SVID: the SAN holds the ID.
    ...(altNames.length > 0
      ? [extension(id_ce_subjectAltName, false, new SubjectAlternativeName(altNames))]
      : []),
  ];
  const { pem: certPem, serial } = certificatePem({
    subject: name(options.commonName, ca.trustDomain),
    issuer: caCert.tbsCertificate.subject,
    publicKey,
    notBefore,
    notAfter,
    extensions,
    signer,
  });
  return {
    certPem,
    keyPem,
    serial,
    spiffeId: options.spiffeId,
    notAfter,
  };
}
