import { generateKeyPairSync, type KeyObject } from "node:crypto";

/**
 * The kinds of key an identity or a CA can have. ECDSA P-256 is the default,
 * as in SPIFFE deployments: a key pair in ~0.1 ms where RSA-2048 takes tens of
 * milliseconds, and a 72-byte signature. RSA-2048 stays issuable for systems
 * that take nothing else; Ed25519 works with Node's TLS, grpc-js and
 * nats-server 2.9 (TLS 1.3), but many agency stacks (Java before 15, .NET on
 * Windows) cannot load it, so it is never the default.
 */
export const KEY_TYPES = ["ecdsa", "ed25519", "rsa"] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const DEFAULT_KEY_TYPE: KeyType = "ecdsa";

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value);
}

export function generatePrivateKey(type: KeyType): KeyObject {
  switch (type) {
    case "ecdsa":
      return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    case "ed25519":
      return generateKeyPairSync("ed25519").privateKey;
    case "rsa":
      return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  }
}

/**
 * How a key of ours signs X.509 structures: the AlgorithmIdentifier's OID,
 * whether it carries NULL parameters (RSA's does, RFC 4055; ECDSA's and
 * Ed25519's are absent, RFC 5758 and RFC 8410), and the digest node:crypto
 * takes (none for Ed25519, which hashes inside).
 */
export interface SignatureAlgorithm {
  readonly oid: string;
  readonly nullParameters: boolean;
  readonly digest: "sha256" | null;
}

const SIGNATURE_ALGORITHMS: Record<KeyType, SignatureAlgorithm> = {
  rsa: { oid: "1.2.840.113549.1.1.11", nullParameters: true, digest: "sha256" }, // sha256WithRSAEncryption
  ecdsa: { oid: "1.2.840.10045.4.3.2", nullParameters: false, digest: "sha256" }, // ecdsa-with-SHA256
  ed25519: { oid: "1.3.101.112", nullParameters: false, digest: null }, // id-Ed25519
};

/** The key type of a private or public key; throws, naming it, for one the federation does not use. */
export function keyTypeOf(key: KeyObject): KeyType {
  const t = key.asymmetricKeyType;
  if (t === "rsa" || t === "ed25519") return t;
  if (t === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1") return "ecdsa";
    throw new Error(`an EC key on curve ${curve ?? "(unknown)"}; the federation uses P-256`);
  }
  throw new Error(`a ${t ?? "(unknown)"} key; the federation uses ${KEY_TYPES.join(", ")}`);
}

export function signatureAlgorithmOf(key: KeyObject): SignatureAlgorithm {
  return SIGNATURE_ALGORITHMS[keyTypeOf(key)];
}
