import { type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { XbusError } from "../errors.js";
import { Attr, SERVER_ERROR_CODES } from "./conventions.js";

// Contexts are passed explicitly (parent → child), so no global context
// manager or propagator is installed: the one process-wide thing the OTel API
// would want is avoided, and two stacks in one test process do not mix.
const propagator = new W3CTraceContextPropagator();
const carrierGetter = {
  keys: (c: Record<string, string>) => Object.keys(c),
  get: (c: Record<string, string>, k: string) => c[k],
};
const carrierSetter = {
  set(c: Record<string, string>, k: string, v: string) {
    c[k] = v;
  },
};

/** The context of a W3C `traceparent` from a peer (invalid or absent: a fresh root). */
export function contextFrom(traceparent: string | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent }, carrierGetter);
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The trace id of a well-formed `traceparent`, for log lines when no span is made. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const id = traceparent ? TRACEPARENT.exec(traceparent)?.[1] : undefined;
  return id && id !== "0".repeat(32) ? id : undefined;
}

/** The W3C `traceparent` that makes `span` the parent of the next hop. */
export function traceparentOf(span: Span): string | undefined {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, carrierSetter);
  return carrier.traceparent;
}

/** Marks `span` with the error an operation ended in. Client-caused codes are not span errors (RPC conventions). */
export function recordFailure(span: Span, err: unknown): void {
  const xe = XbusError.from(err);
  span.setAttribute(Attr.reason, xe.reason);
  span.setAttribute(Attr.rpcGrpcStatusCode, xe.code);
  if (SERVER_ERROR_CODES.has(xe.code)) {
    span.setAttribute(Attr.errorType, xe.reason);
    // The reason, not the message: messages may name a provider's internals.
    span.setStatus({ code: SpanStatusCode.ERROR, message: xe.reason });
  }
}

export { SpanKind };
