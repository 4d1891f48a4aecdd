import { createHash, createHmac, createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { ContentInfo, id_data } from "@peculiar/asn1-cms";
import {
  AuthenticatedSafe,
  CertBag,
  id_certBag,
  id_pkcs8ShroudedKeyBag,
  id_x509Certificate,
  MacData,
  PFX,
  PKCS12Attribute,
  SafeBag,
  SafeContents,
} from "@peculiar/asn1-pfx";
import { DigestInfo } from "@peculiar/asn1-rsa";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import forge from "node-forge";
import { derOfPem, toArrayBuffer } from "./x509-der.js";

/**
 * PKCS#12 keystores (RFC 7292) for agency systems on Java or .NET that import
 * a `.p12` rather than PEM files: the key, its certificate and the chain up to
 * the root. node-forge's writer takes only RSA keys and certificates, so the
 * PFX is built from its RFC 7292 schemas (@peculiar/asn1-pfx) as OpenSSL 3
 * writes one: the key encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC,
 * by node:crypto's PKCS#8 export), certificates in the clear, and a
 * HMAC-SHA-256 MAC keyed by the PKCS#12 KDF (node-forge's) over the whole. Java 8u301+,
 * .NET and `openssl pkcs12` read it.
 */
export interface Pkcs12Options {
  keyPem: string;
  certPem: string;
  /** The issuing CA and on up to the root, in that order. */
  chainPems: readonly string[];
  password: string;
  /** The alias a keystore shows for the entry, e.g. the SPIFFE ID. */
  friendlyName: string;
}

const ITERATIONS = 2048; // OpenSSL 3's default for PKCS#12, both for the key and the MAC
const SHA256 = "2.16.840.1.101.3.4.2.1";
const FRIENDLY_NAME = "1.2.840.113549.1.9.20"; // PKCS#9
const LOCAL_KEY_ID = "1.2.840.113549.1.9.21";
export const MIN_P12_PASSWORD_LENGTH = 8;

export function pkcs12(o: Pkcs12Options): Buffer {
  if (o.password.length < MIN_P12_PASSWORD_LENGTH)
    throw new Error(`a PKCS#12 password must have at least ${MIN_P12_PASSWORD_LENGTH} characters`);
  const leafDer = derOfPem(o.certPem, "CERTIFICATE");
  if (!new X509Certificate(o.certPem).checkPrivateKey(createPrivateKey(o.keyPem)))
    throw new Error("the key does not belong to the certificate");
  // The attributes that pair the key with its certificate: OpenSSL's localKeyID is the certificate's SHA-1.
  const pairing = [
    attribute(
      LOCAL_KEY_ID,
      AsnConvert.serialize(new OctetString(createHash("sha1").update(leafDer).digest())),
    ),
    attribute(FRIENDLY_NAME, bmpString(o.friendlyName)),
  ];
  const certBag = (der: Buffer, attributes?: PKCS12Attribute[]) =>
    new SafeBag({
      bagId: id_certBag,
      bagValue: AsnConvert.serialize(
        new CertBag({ certId: id_x509Certificate, certValue: ber(new OctetString(der)) }),
      ),
      ...(attributes ? { bagAttributes: attributes } : {}),
    });
  const certs = new SafeContents([
    certBag(leafDer, pairing),
    ...o.chainPems.map((pem) => certBag(derOfPem(pem, "CERTIFICATE"))),
  ]);
  const encryptedKey = createPrivateKey(o.keyPem).export({
    type: "pkcs8",
    format: "der",
    cipher: "aes-256-cbc",
    passphrase: o.password,
  });
  const keys = new SafeContents([
    new SafeBag({
      bagId: id_pkcs8ShroudedKeyBag,
      bagValue: toArrayBuffer(encryptedKey),
      bagAttributes: pairing,
    }),
  ]);
  const authSafe = Buffer.from(AsnConvert.serialize(new AuthenticatedSafe([data(certs), data(keys)])));
  const salt = randomBytes(16);
  const macKey = pkcs12Kdf(o.password, salt, 3, ITERATIONS, 32);
  const mac = createHmac("sha256", macKey).update(authSafe).digest();
  const pfx = new PFX({
    version: 3,
    authSafe: new ContentInfo({ contentType: id_data, content: ber(new OctetString(authSafe)) }),
    macData: new MacData({
      mac: new DigestInfo({
        digestAlgorithm: new AlgorithmIdentifier({ algorithm: SHA256, parameters: null }),
        digest: new OctetString(mac),
      }),
      macSalt: new OctetString(salt),
      iterations: ITERATIONS,
    }),
  });
  return Buffer.from(AsnConvert.serialize(pfx));
}

function ber(value: object): ArrayBuffer {
  return AsnConvert.serialize(value);
}

function attribute(id: string, der: ArrayBuffer): PKCS12Attribute {
  // Set after construction: PKCS12Attribute's constructor drops its parameters (asn1-pfx 2.11.1).
  const a = new PKCS12Attribute();
  a.attrId = id;
  a.attrValues = [der];
  return a;
}

/** DER of a BMPString (UTF-16BE), the type PKCS#9 gives a friendlyName. */
function bmpString(text: string): ArrayBuffer {
  const body = Buffer.alloc(text.length * 2);
  for (let i = 0; i < text.length; i++) body.writeUInt16BE(text.charCodeAt(i), i * 2);
  const length =
    body.length < 0x80
      ? Buffer.from([body.length])
      : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
  if (body.length > 0xffff) throw new Error("friendly name too long");
  return toArrayBuffer(Buffer.concat([Buffer.from([0x1e]), length, body]));
}

function data(contents: SafeContents): ContentInfo {
  return new ContentInfo({
    contentType: id_data,
    content: ber(new OctetString(AsnConvert.serialize(contents))),
  });
}

/**
 * RFC 7292 appendix B.2 with SHA-256 (ID 3: a MAC key), by node-forge's
 * `pki.pbe.generatePkcs12Key`: Node's crypto has no PKCS#12 KDF, and this is
 * the part of PKCS#12 forge still does for us (its PFX writer takes only RSA
 * keys). It is public on forge's `pki.pbe` namespace, which @types/node-forge
 * leaves out; cli/commands/certs-p12.test.ts fails if an upgrade changes it (openssl
 * checks the MAC). OpenSSL 3.0 reads no PBMAC1 (RFC 9579), so the MAC keeps
 * this KDF.
 */
export function pkcs12Kdf(password: string, salt: Buffer, id: number, iterations: number, n: number): Buffer {
  const key = forgePbe.generatePkcs12Key(
    password,
    forge.util.createBuffer(salt.toString("binary")),
    id,
    iterations,
    n,
    forge.md.sha256.create(),
  );
  return Buffer.from(key.getBytes(), "binary");
}

/** The typed view of forge's `pki.pbe` this module uses. */
const forgePbe = (
  forge.pki as unknown as {
    pbe: {
      generatePkcs12Key(
        password: string,
        salt: forge.util.ByteStringBuffer,
        id: number,
        iterations: number,
        n: number,
        md: forge.md.MessageDigest,
      ): forge.util.ByteStringBuffer;
    };
  }
).pbe;
