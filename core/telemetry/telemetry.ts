import type { Tracer } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { deferringTracer, keepErrorsSampler, PresetIdGenerator } from "./keep-errors.js";
import { createMetrics, type XbusMetrics } from "./metrics.js";

export interface TelemetryOptions {
  /** `service.name` of this process (OTEL_SERVICE_NAME wins). */
  serviceName: string;
  /** Where OTEL_* settings come from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Spans go to this exporter as each ends (tests: InMemorySpanExporter).
   * Turns tracing on whatever the environment says.
   */
  spanExporter?: SpanExporter;
  /** OTLP/HTTP traces endpoint (full URL, `…/v1/traces`), instead of OTEL_EXPORTER_OTLP_* . */
  otlp?: { url: string; timeoutMillis?: number };
  /** Fraction of root traces sampled; default OTEL_TRACES_SAMPLER_ARG or 0.1. Errors and denials are always kept. */
  sampleRatio?: number;
  /** Spans waiting for the OTLP exporter before new ones are dropped (and counted). Default 2048. */
  maxQueueSize?: number;
}

export interface Telemetry {
  /** Undefined when tracing is off: callers then skip all span work. */
  readonly tracer: Tracer | undefined;
  readonly metrics: XbusMetrics;
  /** The Prometheus text exposition of this process's metrics. */
  prometheusText(): Promise<string>;
  /** Hands finished spans to the exporter now (tests; shutdown). */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Traces and metrics for one process wiring. Nothing is registered globally:
 * the tracer and metrics are handed to the broker, connector and adapter by
 * their options. Tracing is on when an OTLP endpoint is configured (standard
 * OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or a span
 * exporter is passed; metrics are always on (a scrape is the only cost).
 */
export function createTelemetry(o: TelemetryOptions): Telemetry {
  const env = o.env ?? process.env;
  const resource = resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || o.serviceName });

  const reader = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ resource, readers: [reader] });
  const metrics = createMetrics(meterProvider.getMeter("xbus"));
  // No otel_scope_* labels: one scope ("xbus") per process, so they would only add noise.
  const serializer = new PrometheusSerializer(undefined, false, undefined, false, true);

  const disabled = env.OTEL_SDK_DISABLED === "true" || env.OTEL_TRACES_EXPORTER === "none";
  // The exporter would read process.env itself; the URL is resolved here so `env` is the one source.
  const endpoint =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ||
    (env.OTEL_EXPORTER_OTLP_ENDPOINT
      ? `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`
      : undefined);
  let processor: SpanProcessor | undefined;
  if (o.spanExporter) {
    processor = new SimpleSpanProcessor(o.spanExporter);
  } else if (o.otlp || (endpoint && !disabled)) {
    const otlp = new OTLPTraceExporter(o.otlp ?? { url: endpoint });
    const maxQueueSize = o.maxQueueSize ?? 2048;
    const counted = countingExporter(otlp, metrics);
    processor = boundedProcessor(
      new BatchSpanProcessor(counted.exporter, { maxQueueSize, maxExportBatchSize: 512 }),
      maxQueueSize,
      counted,
      metrics,
    );
  }
  let tracerProvider: BasicTracerProvider | undefined;
  let tracer: Tracer | undefined;
  if (processor) {
    const ids = new PresetIdGenerator();
    const sampler = keepErrorsSampler(o.sampleRatio ?? ratioFromEnv(env));
    tracerProvider = new BasicTracerProvider({
      resource,
      sampler,
      idGenerator: ids,
      spanProcessors: [processor],
    });
    // Unsampled spans are only noted, and made if their trace ends in an error or a denial (keep-errors.ts).
    tracer = deferringTracer(tracerProvider.getTracer("xbus"), ids, sampler, {
      onDropped: (n) => metrics.spansDropped.add(n),
    });
  }

  return {
    tracer,
    metrics,
    async prometheusText() {
      const { resourceMetrics } = await reader.collect();
      return serializer.serialize(resourceMetrics);
    },
    async forceFlush() {
      // An export that failed is counted already; flushing must not turn it into the caller's error.
      await tracerProvider?.forceFlush().catch(() => {});
    },
    async shutdown() {
      await Promise.allSettled([tracerProvider?.shutdown(), meterProvider.shutdown()]);
    },
  };
}

function ratioFromEnv(env: Readonly<Record<string, string | undefined>>): number {
  const sampler = env.OTEL_TRACES_SAMPLER ?? "parentbased_traceidratio";
  if (sampler === "always_on" || sampler === "parentbased_always_on") return 1;
  if (sampler === "always_off" || sampler === "parentbased_always_off") return 0;
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? "0.1");
  return Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 0.1;
}

interface Counted {
  exporter: SpanExporter;
  /** Spans handed to the batch processor and not yet through the exporter. */
  pending: number;
}

/** Counts what the exporter delivered and what it could not (collector down, refused). */
function countingExporter(inner: SpanExporter, metrics: XbusMetrics): Counted {
  const counted: Counted = {
    pending: 0,
    exporter: {
      export(spans: ReadableSpan[], done: (r: ExportResult) => void) {
        inner.export(spans, (r) => {
          counted.pending = Math.max(0, counted.pending - spans.length);
          if (r.code === ExportResultCode.SUCCESS) metrics.spansExported.add(spans.length);
          else metrics.spansFailed.add(spans.length);
          done(r);
        });
      },
      shutdown: () => inner.shutdown(),
      forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
    },
  };
  return counted;
}

/**
 * The batch processor already bounds its queue but keeps its drop count to
 * itself; bounding here as well makes every dropped span visible as a metric.
 */
function boundedProcessor(
  next: SpanProcessor,
  max: number,
  counted: Counted,
  metrics: XbusMetrics,
): SpanProcessor {
  return {
    onStart: (span, ctx) => next.onStart(span, ctx),
    onEnd(span) {
      if (counted.pending >= max) {
        metrics.spansDropped.add(1);
        return;
      }
      counted.pending++;
      next.onEnd(span);
    },
    forceFlush: () => next.forceFlush(),
    shutdown: () => next.shutdown(),
  };
}
