import { Metadata, status } from "@grpc/grpc-js";

/**
 * Stable reason strings. A caller branches on these, never on message text, so
 * a reason once shipped keeps its meaning. Each belongs to exactly one gRPC code.
 */
export const Reason = {
  // UNAUTHENTICATED: the call never reaches validation or policy.
  NO_CLIENT_CERT: status.UNAUTHENTICATED,
  NO_SPIFFE_ID: status.UNAUTHENTICATED,
  BAD_SPIFFE_ID: status.UNAUTHENTICATED,
  WRONG_TRUST_DOMAIN: status.UNAUTHENTICATED,
  /** On a connection opened before the CRL that revoked the certificate; new connections fail at the handshake. */
  CERT_REVOKED: status.UNAUTHENTICATED,
  // PERMISSION_DENIED
  WRONG_ROLE: status.PERMISSION_DENIED,
  POLICY_DENIED: status.PERMISSION_DENIED,
  // The grant requires consent and the request names none / one that does not hold.
  CONSENT_REQUIRED: status.PERMISSION_DENIED,
  CONSENT_INVALID: status.PERMISSION_DENIED,
  // The grant is covert (disclose_after) and the request names no legal order (legal_order_ref).
  LEGAL_ORDER_REQUIRED: status.PERMISSION_DENIED,
  // xbus.v1.Consent is for the bundle's consent_authorities only.
  NOT_CONSENT_AUTHORITY: status.PERMISSION_DENIED,
  // INVALID_ARGUMENT: the message names the field.
  INVALID_SERVICE: status.INVALID_ARGUMENT,
  UNKNOWN_SERVICE: status.INVALID_ARGUMENT,
  INVALID_SUBJECT_ID: status.INVALID_ARGUMENT,
  UNKNOWN_PURPOSE: status.INVALID_ARGUMENT,
  INVALID_FIELD: status.INVALID_ARGUMENT,
  UNKNOWN_FIELD: status.INVALID_ARGUMENT,
  INVALID_CONSENT_ID: status.INVALID_ARGUMENT,
  INVALID_REQUEST_ID: status.INVALID_ARGUMENT,
  INVALID_LEGAL_ORDER_REF: status.INVALID_ARGUMENT,
  INVALID_REQUEST: status.INVALID_ARGUMENT,
  /** The request's bytes are not the method's protobuf message (a Fetch's is logged, as invalid, by its hash). */
  MALFORMED_REQUEST: status.INVALID_ARGUMENT,
  BAD_ROUTE_SIGNATURE: status.PERMISSION_DENIED,
  WRONG_AGENCY: status.PERMISSION_DENIED,
  /** A connector or adapter was handed a route it had already served (a captured route replayed). */
  ROUTE_REPLAYED: status.PERMISSION_DENIED,
  // RESOURCE_EXHAUSTED
  PROVIDER_BUSY: status.RESOURCE_EXHAUSTED,
  // Over a grant's rate; trailing metadata xbus-retry-after-ms says when to try again.
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  // NOT_FOUND: the provider has no record for this subject.
  SUBJECT_NOT_FOUND: status.NOT_FOUND,
  CONSENT_NOT_FOUND: status.NOT_FOUND,
  // UNAVAILABLE
  PROVIDER_UNAVAILABLE: status.UNAVAILABLE,
  BUS_UNAVAILABLE: status.UNAVAILABLE,
  LOG_UNAVAILABLE: status.UNAVAILABLE,
  // DEADLINE_EXCEEDED
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  // INTERNAL: details stay in the broker's own log.
  PROVIDER_ERROR: status.INTERNAL,
  PROVIDER_BAD_RECORD: status.INTERNAL,
  INTERNAL: status.INTERNAL,
} as const satisfies Record<string, status>;

export type Reason = keyof typeof Reason;

export function isReason(value: string): value is Reason {
  return Object.hasOwn(Reason, value);
}

/** Trailing metadata keys every xbus error carries. */
export const ErrorMetadata = {
  reason: "xbus-reason",
  exchangeId: "xbus-exchange-id",
  field: "xbus-field",
  retryAfterMs: "xbus-retry-after-ms",
  /** xbus.v1.Receipt, protobuf binary: the log entry of this failed exchange. */
  receipt: "xbus-receipt-bin",
} as const;

export interface XbusErrorOptions {
  /** The request field at fault, for INVALID_ARGUMENT. */
  field?: string;
  /** For RATE_LIMITED: milliseconds until a retry can succeed. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * The one error type of xbus. Every failure a caller can see is an XbusError:
 * a gRPC status code fixed by its reason, a message safe to show the caller,
 * and optionally the field at fault. Anything else is converted with `from`.
 */
export class XbusError extends Error {
  override readonly name = "XbusError";
  readonly code: status;
  readonly reason: Reason;
  readonly field: string | undefined;
  readonly retryAfterMs: number | undefined;
  /** Set by the broker once an exchange id exists, so the caller gets it in trailers. */
  exchangeId: string | undefined;
  /** Protobuf bytes of the exchange log receipt, once the failed exchange is logged. */
  receipt: Uint8Array | undefined;

  constructor(reason: Reason, message: string, options: XbusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.code = Reason[reason];
    this.field = options.field;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Turns anything thrown into an XbusError; unknown errors become INTERNAL without their text. */
  static from(err: unknown): XbusError {
    if (err instanceof XbusError) return err;
    return new XbusError("INTERNAL", "internal error", { cause: err });
  }

  /** The object grpc-js sends as the call's status, with reason and exchange id in trailers. */
  toGrpc(exchangeId = this.exchangeId): { code: status; details: string; metadata: Metadata } {
    const metadata = new Metadata();
    metadata.set(ErrorMetadata.reason, this.reason);
    if (exchangeId) metadata.set(ErrorMetadata.exchangeId, exchangeId);
    if (this.field) metadata.set(ErrorMetadata.field, this.field);
    if (this.retryAfterMs !== undefined) metadata.set(ErrorMetadata.retryAfterMs, String(this.retryAfterMs));
    if (this.receipt) metadata.set(ErrorMetadata.receipt, Buffer.from(this.receipt));
    return { code: this.code, details: `${this.reason}: ${this.message}`, metadata };
  }
}
