import { createHmac } from "node:crypto";

/**
 * The log never holds a citizen ID, only HMAC-SHA-256 of it under the log
 * secret: a reviewer who knows an ID can find its exchanges, but a copy of the
 * log does not list citizens.
 */
export function subjectRef(secret: Uint8Array, subjectId: string): string {
  return createHmac("sha256", secret).update(subjectId, "utf8").digest("hex");
}
