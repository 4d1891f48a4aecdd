import { type Context, type SpanContext, SpanStatusCode, TraceFlags, trace } from "@opentelemetry/api";
import {
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  type Span,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { Attr } from "./conventions.js";

/**
 * Parent-based head sampling that records everything: a span whose parent (or,
 * for a root, the trace-id ratio) says "sampled" is sampled as usual; every
 * other span is still recorded (RECORD) so that `KeepErrorsProcessor` can
 * decide after the fact to keep a trace that ended in an error or a denial.
 * The W3C sampled flag sent downstream stays honest: unsampled stays 00.
 */
export function keepErrorsSampler(ratio: number): Sampler {
  const root = new TraceIdRatioBasedSampler(ratio);
  return {
    shouldSample(...args: Parameters<Sampler["shouldSample"]>): SamplingResult {
      const [context] = args;
      const parent = trace.getSpanContext(context);
      const sampled = parent
        ? (parent.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED
        : root.shouldSample(context, args[1]).decision === SamplingDecision.RECORD_AND_SAMPLED;
      return { decision: sampled ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.RECORD };
    },
    toString: () => `KeepErrorsSampler{ratio=${ratio}}`,
  };
}

export interface KeepErrorsOptions {
  /** Traces held while their local roots are open; the oldest is dropped beyond it. Default 1024. */
  maxTraces?: number;
  /** Spans held per trace. Default 64. */
  maxSpansPerTrace?: number;
  /** Counts spans held back and then dropped because the buffer was full. */
  onEvicted?: (spans: number) => void;
}

interface Held {
  spans: ReadableSpan[];
  openRoots: number;
}

/**
 * The after-the-fact half of "always sample errors and denials". Sampled spans
 * pass straight to `next`. Recorded-but-unsampled spans are held per trace
 * until every local root of that trace in this process has ended (a local root
 * has no parent here, or a remote one: the broker's `xbus.exchange`, the
 * connector's `xbus.connector`). If one of those roots ended in error or with a
 * denial, the held spans are re-flagged as sampled and passed on, and the
 * trace is remembered so that its later spans follow; otherwise they are
 * dropped. The buffer is bounded by trace and by spans per trace.
 *
 * Limit: the decision is per process. A broker denial keeps the broker's
 * spans; a connector in another process never hears of it, so its spans of
 * that trace are kept only if the connector itself saw an error.
 */
export class KeepErrorsProcessor implements SpanProcessor {
  private readonly held = new Map<string, Held>();
  private readonly kept = new Set<string>();
  private readonly maxTraces: number;
  private readonly maxSpans: number;

  constructor(
    private readonly next: SpanProcessor,
    private readonly o: KeepErrorsOptions = {},
  ) {
    this.maxTraces = o.maxTraces ?? 1024;
    this.maxSpans = o.maxSpansPerTrace ?? 64;
  }

  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
    if (isSampled(span.spanContext()) || !isLocalRoot(span)) return;
    const id = span.spanContext().traceId;
    let h = this.held.get(id);
    if (!h) {
      if (this.held.size >= this.maxTraces) this.evictOldest();
      h = { spans: [], openRoots: 0 };
      this.held.set(id, h);
    }
    h.openRoots++;
  }

  onEnd(span: ReadableSpan): void {
    const ctx = span.spanContext();
    if (isSampled(ctx)) {
      this.next.onEnd(span);
      return;
    }
    const id = ctx.traceId;
    if (this.kept.has(id)) {
      this.next.onEnd(asSampled(span));
      return;
    }
    const h = this.held.get(id);
    if (!h) return; // its trace was evicted, or it started before a root we track
    if (h.spans.length < this.maxSpans) h.spans.push(span);
    else this.o.onEvicted?.(1);
    if (!isLocalRoot(span)) return;
    h.openRoots--;
    if (mustKeep(span)) {
      this.held.delete(id);
      this.remember(id);
      for (const s of h.spans) this.next.onEnd(asSampled(s));
    } else if (h.openRoots <= 0) {
      this.held.delete(id);
    }
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    this.held.clear();
    return this.next.shutdown();
  }

  private evictOldest(): void {
    const first = this.held.entries().next();
    if (first.done) return;
    this.held.delete(first.value[0]);
    if (first.value[1].spans.length > 0) this.o.onEvicted?.(first.value[1].spans.length);
  }

  private remember(id: string): void {
    if (this.kept.size >= this.maxTraces) {
      const first = this.kept.values().next();
      if (!first.done) this.kept.delete(first.value);
    }
    this.kept.add(id);
  }
}

function isSampled(ctx: SpanContext): boolean {
  return (ctx.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
}

function isLocalRoot(span: ReadableSpan): boolean {
  return span.parentSpanContext === undefined || span.parentSpanContext.isRemote === true;
}

function mustKeep(span: ReadableSpan): boolean {
  const decision = span.attributes[Attr.decision];
  return span.status.code === SpanStatusCode.ERROR || decision === "deny";
}

/** The same span, reporting the sampled flag, so exporters and batch processors take it. */
function asSampled(span: ReadableSpan): ReadableSpan {
  const ctx = { ...span.spanContext(), traceFlags: span.spanContext().traceFlags | TraceFlags.SAMPLED };
  return new Proxy(span, {
    get: (target, prop) => {
      if (prop === "spanContext") return () => ctx;
      const v: unknown = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
