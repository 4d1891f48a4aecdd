import {
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  TraceFlags,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import {
  type IdGenerator,
  RandomIdGenerator,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { Attr } from "./conventions.js";

/*
 * "Sample a fraction, but always keep errors and denials", without paying for
 * the traces that are dropped. An unsampled trace gets non-recording spans
 * from the SDK (ids only, which still propagate), wrapped here in a
 * DeferredSpan that notes its name, times, attributes and status. When a local
 * root (no parent in this process) ends in an error or a denial, it and the
 * spans noted under it are made for real, with the ids they already
 * propagated and the times they had, and exported as sampled; otherwise the
 * notes are dropped. The W3C sampled flag sent downstream stays honest: an
 * unsampled trace says 00. (Before: every unsampled span was recorded by the
 * SDK and held by a span processor until its root decided; ~5 KB of garbage per
 * exchange, `npm run bench -- --heap-profile`, for spans nearly all dropped.)
 *
 * Limit: the decision is per process. A broker denial keeps the broker's
 * spans; a connector in another process never hears of it, so its spans of
 * that trace are kept only if the connector itself saw an error.
 */

/** Marks a span made after the fact; the sampler samples it, and a reader of the trace sees why it exists. */
const KEPT = "xbus.kept";

/**
 * Parent-based head sampling: a span whose parent (or, for a root, the
 * trace-id ratio) says "sampled" is sampled; any other is not recorded at all
 * (the deferring tracer notes it instead), except a span made after the fact
 * to keep an error or a denial.
 */
export function keepErrorsSampler(ratio: number): Sampler {
  const root = new TraceIdRatioBasedSampler(ratio);
  return {
    shouldSample(...args: Parameters<Sampler["shouldSample"]>): SamplingResult {
      const [context, , , , attributes] = args;
      if (attributes?.[KEPT] !== undefined) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      const parent = trace.getSpanContext(context);
      const sampled = parent
        ? (parent.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED
        : root.shouldSample(context, args[1]).decision === SamplingDecision.RECORD_AND_SAMPLED;
      return { decision: sampled ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
    },
    toString: () => `KeepErrorsSampler{ratio=${ratio}}`,
  };
}

/**
 * Random ids, except that the next span can be told its ids: a span made after
 * the fact keeps those it propagated while it was only noted.
 */
export class PresetIdGenerator implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  private next: SpanContext | undefined;
  private pendingTraceId: string | undefined;

  /** Runs `start` (one synchronous startSpan) with its span's ids chosen: `ids`. */
  withIds<T>(ids: SpanContext, start: () => T): T {
    this.next = ids;
    try {
      return start();
    } finally {
      this.next = undefined;
      this.pendingTraceId = undefined;
    }
  }

  /** Fresh random ids, for a span the deferring tracer notes without the SDK. */
  randomSpanId(): string {
    return this.random.generateSpanId();
  }
  randomTraceId(): string {
    return this.random.generateTraceId();
  }

  generateSpanId(): string {
    // The SDK asks for the span id first, then for a trace id only if the span has no parent.
    const next = this.next;
    this.next = undefined;
    this.pendingTraceId = next?.traceId;
    return next?.spanId ?? this.random.generateSpanId();
  }

  generateTraceId(): string {
    const id = this.pendingTraceId;
    this.pendingTraceId = undefined;
    return id ?? this.random.generateTraceId();
  }
}

export interface DeferringOptions {
  /** Spans noted under one local root; past it they are dropped and counted. Default 64. */
  maxSpansPerTrace?: number;
  onDropped?: (spans: number) => void;
}

/**
 * A tracer whose unsampled spans are noted, and made only if their trace must
 * be kept. It asks `sampler` (the provider's own) first: a sampled span is the
 * SDK's, started with the ids chosen here; an unsampled one never reaches the
 * SDK (no attribute copy, no span object, no processor call).
 */
export function deferringTracer(
  inner: Tracer,
  ids: PresetIdGenerator,
  sampler: Sampler,
  o: DeferringOptions = {},
): Tracer {
  const maxSpans = o.maxSpansPerTrace ?? 64;
  /** Makes `d` for real under `parent`, then those of its children that have ended. */
  const make: Maker = (d, parent, why) => {
    const real = ids.withIds(d.spanContext(), () =>
      inner.startSpan(
        d.name,
        {
          kind: d.kind,
          startTime: d.startTime,
          attributes: { ...d.attributes, [KEPT]: why },
          links: d.links,
        },
        parent,
      ),
    );
    if (d.status) real.setStatus(d.status);
    real.end(d.endTime);
    d.made = trace.setSpan(ROOT_CONTEXT, real);
    for (const c of d.children) if (c.endTime !== undefined) make(c, d.made, why);
  };
  return {
    startSpan(name, options = {}, context = ROOT_CONTEXT) {
      const parentCtx = trace.getSpanContext(context);
      const hasParent = parentCtx !== undefined && isSpanContextValid(parentCtx);
      const spanContext: SpanContext = {
        traceId: hasParent ? parentCtx.traceId : ids.randomTraceId(),
        spanId: ids.randomSpanId(),
        traceFlags: TraceFlags.NONE,
        ...(hasParent && parentCtx.traceState ? { traceState: parentCtx.traceState } : {}),
      };
      const decision = sampler.shouldSample(
        context,
        spanContext.traceId,
        name,
        options.kind ?? 0,
        options.attributes ?? {},
        options.links ?? [],
      ).decision;
      if (decision !== SamplingDecision.NOT_RECORD)
        return ids.withIds(spanContext, () => inner.startSpan(name, options, context));
      const parent = trace.getSpan(context);
      const local = parent instanceof DeferredSpan ? parent : undefined;
      if (local && !local.root.note(maxSpans)) {
        o.onDropped?.(1);
        return trace.wrapSpanContext(spanContext);
      }
      const d = new DeferredSpan(spanContext, name, options, context, local, make);
      local?.children.push(d);
      return d;
    },
    startActiveSpan() {
      throw new Error("startActiveSpan is not supported: contexts are passed explicitly in xbus");
    },
  };
}

type Maker = (d: DeferredSpan, parent: Context, why: string) => void;

/** Milliseconds since the epoch with the SDK's own sub-millisecond precision (performance.now()). */
const now = () => performance.timeOrigin + performance.now();

/** Why a local root's trace is kept: an error status or a denial; undefined when it is not. */
function keepReason(d: DeferredSpan): string | undefined {
  if (d.status?.code === SpanStatusCode.ERROR) return "error";
  if (d.attributes[Attr.decision] === "deny") return "denial";
  return undefined;
}

/**
 * An unsampled span, noted: what a span processor would have been handed,
 * without the SDK's span object. Its ids are the non-recording span's, so
 * `traceparent` and child contexts are what they would have been.
 */
class DeferredSpan implements Span {
  readonly attributes: Attributes = {};
  readonly startTime: TimeInput;
  readonly kind: SpanOptions["kind"];
  readonly links: Link[] | undefined;
  status: SpanStatus | undefined;
  endTime: TimeInput | undefined;
  readonly children: DeferredSpan[] = [];
  /** The local root this span is noted under (itself for a root). */
  readonly root: DeferredSpan;
  /** Once made for real: the context under the made span, for children that end later. */
  made: Context | undefined;
  /** A root's decision, once it has ended: the reason its trace is kept, or null when it is dropped. */
  private kept: string | null | undefined;
  private noted = 0;

  constructor(
    private readonly ctx: SpanContext,
    readonly name: string,
    options: SpanOptions,
    private readonly context: Context,
    private readonly parent: DeferredSpan | undefined,
    private readonly make: Maker,
  ) {
    this.root = parent?.root ?? this;
    this.kind = options.kind;
    this.links = options.links;
    this.startTime = options.startTime ?? now();
    if (options.attributes) Object.assign(this.attributes, options.attributes);
  }

  /** Counts a span noted under this root; false when it holds as many as it may. */
  note(max: number): boolean {
    if (this.noted >= max) return false;
    this.noted++;
    return true;
  }

  spanContext(): SpanContext {
    return this.ctx;
  }
  setAttribute(key: string, value: AttributeValue): this {
    if (this.endTime === undefined) this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    if (this.endTime === undefined) Object.assign(this.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    if (this.endTime === undefined) this.status = status;
    return this;
  }
  updateName(): this {
    return this;
  }
  end(endTime?: TimeInput): void {
    if (this.endTime !== undefined) return;
    this.endTime = endTime ?? now();
    if (this.root === this) {
      const why = keepReason(this);
      this.kept = why ?? null;
      if (why) this.make(this, this.context, why);
      else this.children.length = 0;
      return;
    }
    // A span that ends after its trace was kept is made at once, under its made parent.
    const why = this.root.kept;
    if (typeof why === "string" && this.parent?.made) this.make(this, this.parent.made, why);
  }
  isRecording(): boolean {
    return false;
  }
  recordException(_exception: Exception): void {}
}
