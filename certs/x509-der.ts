import { createHash, type KeyObject, sign } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  Certificate,
  CertificateList,
  Extension,
  id_ce_subjectKeyIdentifier,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  type TBSCertificate,
  type TBSCertList,
} from "@peculiar/asn1-x509";
import { signatureAlgorithmOf } from "./key-type.js";

/**
 * The X.509 structures are the RFC 5280 schemas of @peculiar/asn1-x509 (the
 * ASN.1 layer @peculiar/x509 is built on), encoded by @peculiar/asn1-schema;
 * node:crypto signs them. @peculiar/x509's own generators sign through
 * WebCrypto and are async only, while the certs API is synchronous for its
 * callers (the CA folder, the test and dev stacks), and the library needs a
 * global Reflect polyfill; the schema layer needs neither.
 */

export function pemOf(label: "CERTIFICATE" | "X509 CRL", der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der as Uint8Array).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)?.join("\n")}\n-----END ${label}-----\n`;
}

/** The DER of the first PEM block of `label` in `text`; throws naming the label when there is none. */
export function derOfPem(text: string, label: "CERTIFICATE" | "X509 CRL"): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text);
  if (!m?.[1]) throw new Error(`not a PEM ${label}`);
  return Buffer.from(m[1].replace(/\s+/g, ""), "base64");
}

export function parseCertificatePem(pem: string): Certificate {
  return AsnConvert.parse(derOfPem(pem, "CERTIFICATE"), Certificate);
}

export function algorithmIdentifierFor(key: KeyObject): AlgorithmIdentifier {
  const alg = signatureAlgorithmOf(key);
  return new AlgorithmIdentifier({
    algorithm: alg.oid,
    ...(alg.nullParameters ? { parameters: null } : {}),
  });
}

export function extension(oid: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID: oid, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
export function keyIdentifierOf(spki: SubjectPublicKeyInfo): SubjectKeyIdentifier {
  return new SubjectKeyIdentifier(createHash("sha1").update(new Uint8Array(spki.subjectPublicKey)).digest());
}

export function spkiOf(publicKey: KeyObject): SubjectPublicKeyInfo {
  return AsnConvert.parse(publicKey.export({ type: "spki", format: "der" }), SubjectPublicKeyInfo);
}

/**
 * The key identifier a CA's certificates and CRLs name as their authority:
 * the one its own certificate states (certificates made by the node-forge
 * issuer state forge's), else computed from its key.
 */
export function subjectKeyIdentifierOf(cert: Certificate): SubjectKeyIdentifier {
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  if (ext) return AsnConvert.parse(ext.extnValue, SubjectKeyIdentifier);
  return keyIdentifierOf(cert.tbsCertificate.subjectPublicKeyInfo);
}

/** Sets the TBS's signature algorithm to the key's and signs its DER; ECDSA signatures come as DER (Ecdsa-Sig-Value). */
function signTbs(
  tbs: { signature: AlgorithmIdentifier },
  key: KeyObject,
): [AlgorithmIdentifier, ArrayBuffer] {
  const algorithm = algorithmIdentifierFor(key);
  tbs.signature = algorithm;
  const signed = Buffer.from(AsnConvert.serialize(tbs));
  return [algorithm, toArrayBuffer(sign(signatureAlgorithmOf(key).digest, signed, key))];
}

/** Signs `tbs` with `key` (ECDSA, Ed25519 or RSA); returns the certificate's DER. */
export function signCertificate(tbs: TBSCertificate, key: KeyObject): Buffer {
  const [signatureAlgorithm, signatureValue] = signTbs(tbs, key);
  return Buffer.from(
    AsnConvert.serialize(new Certificate({ tbsCertificate: tbs, signatureAlgorithm, signatureValue })),
  );
}

export function signCrl(tbs: TBSCertList, key: KeyObject): Buffer {
  const [signatureAlgorithm, signature] = signTbs(tbs, key);
  return Buffer.from(
    AsnConvert.serialize(new CertificateList({ tbsCertList: tbs, signatureAlgorithm, signature })),
  );
}

export function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** A non-negative INTEGER's content octets: minimal, with a leading zero when the top bit is set. */
export function integerBytes(hex: string): ArrayBuffer {
  let h = hex.replace(/^0+(?=.)/, "");
  if (h.length % 2 === 1) h = `0${h}`;
  if (Number.parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`;
  return toArrayBuffer(Buffer.from(h, "hex"));
}

/** Upper-case hex of an INTEGER's content octets, without leading zeros (as Node's serialNumber shows it). */
export function hexOfInteger(bytes: ArrayBuffer): string {
  return Buffer.from(bytes)
    .toString("hex")
    .toUpperCase()
    .replace(/^0+(?=.)/, "");
}

export function nameDer(name: object): Buffer {
  return Buffer.from(AsnConvert.serialize(name));
}
