import type { ExchangeRecord } from "../../proto/gen/xbus/v1/log_pb.js";
import type { ProviderSignature } from "../../proto/gen/xbus/v1/route_pb.js";

/**
 * Size bounds of an exchange record, applied before it is signed and appended
 * (issue 19, finding 2). Every field that text from outside the broker can
 * grow — the reason (a provider's words, before the broker maps them), the
 * connector's signature, the lists of grants and fields — is bounded here, so a
 * record stays far below NATS max_payload (1 MB by default) whatever a
 * consumer or a connector sends. What was cut is named in `truncated`.
 */
export const TRUNCATED_MARKER = " …[truncated]";

const MAX_REASON = 1024;
const MAX_SHORT = 512;
const MAX_LIST = 64;
const MAX_LIST_ITEM = 128;
// A signature field of any key type the federation issues (RSA-4096: 512 bytes), a SHA-256, an Ed25519 key.
const MAX_SIGNATURE_BYTES = 1024;
const MAX_HASH_BYTES = 64;
const MAX_BATCH_PATH = 32;

function cutText(s: string, max: number): string | undefined {
  return s.length <= max ? undefined : s.slice(0, max - TRUNCATED_MARKER.length) + TRUNCATED_MARKER;
}

function signatureFits(ps: ProviderSignature): boolean {
  return (
    ps.signer.length <= MAX_SHORT &&
    ps.certificateSha256.length <= MAX_HASH_BYTES &&
    ps.recordSha256.length <= MAX_HASH_BYTES &&
    ps.signature.length <= MAX_SIGNATURE_BYTES &&
    ps.delegatedKey.length <= MAX_HASH_BYTES &&
    ps.delegation.length <= MAX_SIGNATURE_BYTES &&
    ps.batchPath.length <= MAX_BATCH_PATH &&
    ps.batchPath.every((p) => p.length <= MAX_HASH_BYTES)
  );
}

/** Cuts `r` in place to the bounds above and names each field it cut in `r.truncated`. */
export function boundRecord(r: ExchangeRecord): ExchangeRecord {
  const cut: string[] = [];
  const text = (
    key: "reason" | "consumer" | "certSerial" | "service" | "purpose" | "consentId" | "requestId",
    name: string,
    max: number,
  ) => {
    const shorter = cutText(r[key], max);
    if (shorter !== undefined) {
      r[key] = shorter;
      cut.push(name);
    }
  };
  text("reason", "reason", MAX_REASON);
  text("consumer", "consumer", MAX_SHORT);
  text("certSerial", "cert_serial", MAX_SHORT);
  text("service", "service", MAX_SHORT);
  text("purpose", "purpose", MAX_SHORT);
  text("consentId", "consent_id", MAX_SHORT);
  text("requestId", "request_id", MAX_SHORT);
  const list = (
    key: "matchedGrants" | "fieldsRequested" | "fieldsReleased" | "fieldsWithheld",
    name: string,
  ) => {
    const before = r[key];
    if (before.length <= MAX_LIST && before.every((s) => s.length <= MAX_LIST_ITEM)) return;
    r[key] = before.slice(0, MAX_LIST).map((s) => cutText(s, MAX_LIST_ITEM) ?? s);
    cut.push(name);
  };
  list("matchedGrants", "matched_grants");
  list("fieldsRequested", "fields_requested");
  list("fieldsReleased", "fields_released");
  list("fieldsWithheld", "fields_withheld");
  if (r.providerSignature && !signatureFits(r.providerSignature)) {
    r.providerSignature = undefined;
    cut.push("provider_signature");
  }
  r.truncated = cut;
  return r;
}
