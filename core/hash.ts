import { createHash } from "node:crypto";

/** SHA-256 of bytes. */
export function sha256(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/** Lowercase hex SHA-256, as the log and the review API show hashes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
