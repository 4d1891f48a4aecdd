import type { Reason } from "../../core/index.js";
import type { Receipt } from "../../proto/gen/xbus/v1/exchange_pb.js";
import type { ProviderSignature } from "../../proto/gen/xbus/v1/route_pb.js";

/**
 * What the broker knows about one exchange attempt when it ends, allowed or
 * not. The exchange log turns it into an ExchangeRecord; it holds no record
 * data, and the citizen ID only so the log writer can key-hash it.
 */
export interface ExchangeOutcome {
  exchangeId: string;
  startedAt: number;
  consumer: string | undefined;
  certSerial: string | undefined;
  service: string;
  subjectId: string;
  purpose: string;
  consentId: string;
  requestId: string;
  /** The legal order the request named; "" for none. */
  legalOrderRef?: string;
  /** Delayed disclosure: ms since the epoch before which the citizen view hides it; 0 for none. */
  discloseAfter?: number;
  decision: "allow" | "deny" | "invalid" | "error";
  matchedGrants: readonly string[];
  bundleHash: string;
  fieldsRequested: readonly string[];
  fieldsReleased: readonly string[];
  fieldsWithheld: readonly string[];
  status: "OK" | Reason;
  reasonText: string;
  /** Lowercase hex SHA-256 of the FetchRequest bytes as received (even when they do not decode). */
  requestHash: string;
  /** Lowercase hex SHA-256 of the record bytes released; empty when none were. */
  responseHash: string;
  /** W3C trace id, when the consumer sent a traceparent; empty otherwise. */
  traceId: string;
  latencyMs: number;
  /** The connector's signature over the record it returned, when it signs. */
  providerSignature?: ProviderSignature | undefined;
}

export interface RecordOptions {
  /** Give up waiting (ms since the epoch): the consumer's deadline. */
  deadlineMs?: number;
  /**
   * For outcomes that release nothing: if the log cannot take the record in
   * time, keep it and retry in the background rather than lose it.
   */
  retryLater?: boolean;
}

/**
 * Where outcomes go. The broker awaits `record` before it answers: for an
 * allowed exchange, a rejection means the consumer gets no data.
 */
export interface ExchangeRecorder {
  /**
   * Before an exchange is routed: throws LOG_UNAVAILABLE when the log could not
   * keep this exchange's record should it fail (fail closed).
   */
  admit?(): void;
  record(outcome: ExchangeOutcome, options?: RecordOptions): Promise<Receipt | undefined>;
}
