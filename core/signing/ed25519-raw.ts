import { createPublicKey, type KeyObject } from "node:crypto";

/*
 * Ed25519 public keys travel as their raw 32 bytes (tree heads, reply
 * delegations); Node wants SPKI DER. The SPKI encoding of an Ed25519 key is a
 * fixed 12-byte prefix followed by the raw key (RFC 8410).
 */
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export function rawEd25519(key: KeyObject): Buffer {
  return key.export({ type: "spki", format: "der" }).subarray(SPKI_PREFIX.length);
}

export function ed25519FromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error("an Ed25519 public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}
