import { performance } from "node:perf_hooks";
import type { Attributes, Span } from "@opentelemetry/api";
import { ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import type { Catalogue, ServiceName } from "../../core/contract/index.js";
import type { Logger } from "../../core/index.js";
import { XbusError } from "../../core/index.js";
import { serviceSubject } from "../../core/nats/index.js";
import {
  Attr,
  contextFrom,
  recordFailure,
  SpanKind,
  SpanName,
  type Stage,
  type Telemetry,
  traceparentOf,
} from "../../core/telemetry/index.js";
import type { ExchangeOutcome } from "./outcome.js";

const STAGE_SPAN: Record<Stage, string> = {
  identity: SpanName.identity,
  validation: SpanName.validation,
  policy: SpanName.policy,
  routing: SpanName.routing,
  log_append: SpanName.logAppend,
};

/**
 * One exchange's telemetry. fetch.ts marks where each step begins
 * (`enter("policy")`) instead of wrapping code in callbacks, so the path reads
 * as before and other changes to it merge cleanly. Entering a step ends the
 * one before; `end` closes the last step and the exchange and writes one
 * debug line that ties exchange id and trace id together. With no telemetry
 * that line is all it does.
 */
export interface ExchangeTrace {
  /** The broker span's trace id, for the exchange log; undefined when tracing is off. */
  readonly traceId: string | undefined;
  enter(stage: Stage, service?: ServiceName): void;
  /** `traceparent` for the next hop: the current step's span, else what the consumer sent. */
  traceparent(): string | undefined;
  /** Ends the current step as failed. */
  fail(err: unknown): void;
  end(outcome: ExchangeOutcome, err?: unknown): void;
}

export function beginExchange(
  telemetry: Telemetry | undefined,
  catalogue: Catalogue,
  logger: Logger,
  consumerTraceparent: string | undefined,
): ExchangeTrace {
  const done = (o: ExchangeOutcome) =>
    logger.debug(
      {
        exchange_id: o.exchangeId,
        trace_id: o.traceId || undefined,
        service: catalogue.get(o.service) ? o.service : undefined,
        consumer: o.consumer,
        decision: o.decision,
        status: o.status,
        latency_ms: Math.round(o.latencyMs * 1000) / 1000,
      },
      "exchange done",
    );
  if (!telemetry)
    return {
      traceId: undefined,
      enter() {},
      traceparent: () => consumerTraceparent,
      fail() {},
      end: done,
    };
  const { tracer, metrics } = telemetry;
  const started = performance.now();
  metrics.brokerInFlight.add(1);
  const root: Span | undefined = tracer?.startSpan(
    SpanName.exchange,
    {
      kind: SpanKind.SERVER,
      attributes: {
        [Attr.rpcSystem]: "grpc",
        [Attr.rpcSystemName]: "grpc",
        [Attr.rpcService]: "xbus.v1.Exchange",
        [Attr.rpcMethod]: "Fetch",
      },
    },
    contextFrom(consumerTraceparent),
  );
  // An unsampled trace's spans are only noted by the tracer (core/telemetry/keep-errors.ts) and made if the
  // exchange ends in an error or a denial. Its leaf steps (all but routing, whose span id the connector
  // continues) are not even started: noted here with their times, and started only when the trace is kept.
  const sampled = root !== undefined && (root.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
  const noted: { name: Stage; at: number; end: number; err: unknown }[] = [];
  let stage: { name: Stage; span: Span | undefined; at: number } | undefined;
  const closeStage = (err?: unknown) => {
    if (!stage) return;
    const now = performance.now();
    metrics.stage(stage.name, (now - stage.at) / 1000);
    if (stage.span) {
      if (err !== undefined) recordFailure(stage.span, err);
      stage.span.end();
    } else if (root) {
      noted.push({ name: stage.name, at: stage.at, end: now, err });
    }
    stage = undefined;
  };
  const spanNoted = (parent: Span) => {
    for (const n of noted) {
      const span = tracer?.startSpan(
        STAGE_SPAN[n.name],
        { kind: SpanKind.INTERNAL, startTime: performance.timeOrigin + n.at },
        trace.setSpan(ROOT_CONTEXT, parent),
      );
      if (!span) return;
      if (n.err !== undefined) recordFailure(span, n.err);
      span.end(performance.timeOrigin + n.end);
    }
  };
  return {
    traceId: root?.spanContext().traceId,
    enter(name, service) {
      closeStage();
      let span: Span | undefined;
      if (tracer && root && (sampled || name === "routing")) {
        const attributes: Attributes =
          name === "routing" && service
            ? {
                [Attr.messagingSystem]: "nats",
                [Attr.messagingDestination]: serviceSubject(service),
                [Attr.messagingOperation]: "send",
              }
            : {};
        span = tracer.startSpan(
          STAGE_SPAN[name],
          { kind: name === "routing" ? SpanKind.CLIENT : SpanKind.INTERNAL, attributes },
          trace.setSpan(ROOT_CONTEXT, root),
        );
      }
      stage = { name, span, at: performance.now() };
    },
    traceparent() {
      const span = stage?.span ?? root;
      return span ? traceparentOf(span) : consumerTraceparent;
    },
    fail: closeStage,
    end(outcome, err) {
      closeStage(err);
      done(outcome);
      metrics.brokerInFlight.add(-1);
      // Request text is not a label: only a catalogue name is, so labels stay a bounded set.
      const service = catalogue.get(outcome.service) ? outcome.service : "_unknown";
      metrics.exchangeDone(
        {
          service,
          consumerAgency: agencyOf(outcome.consumer),
          decision: outcome.decision,
          status: outcome.status,
        },
        (performance.now() - started) / 1000,
      );
      if (!root) return;
      if (err !== undefined || outcome.decision === "deny") spanNoted(root);
      root.setAttributes({
        [Attr.exchangeId]: outcome.exchangeId,
        [Attr.service]: service,
        [Attr.consumer]: outcome.consumer ?? "",
        [Attr.decision]: outcome.decision,
        [Attr.rpcGrpcStatusCode]: err === undefined ? 0 : XbusError.from(err).code,
      });
      if (err !== undefined) recordFailure(root, err);
      root.end();
    },
  };
}

const AGENCY = /^spiffe:\/\/[^/]+\/agency\/([a-z0-9-]{1,63})\//;

function agencyOf(consumer: string | undefined): string {
  return (consumer && AGENCY.exec(consumer)?.[1]) || "_unknown";
}
