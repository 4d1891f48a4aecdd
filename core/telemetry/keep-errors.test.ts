import { ROOT_CONTEXT, type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { deferringTracer, keepErrorsSampler, PresetIdGenerator } from "./keep-errors.js";
import { contextFrom, traceparentOf } from "./spans.js";

function setup(ratio: number, maxSpansPerTrace = 16) {
  const exporter = new InMemorySpanExporter();
  let dropped = 0;
  const ids = new PresetIdGenerator();
  const sampler = keepErrorsSampler(ratio);
  const provider = new BasicTracerProvider({
    sampler,
    idGenerator: ids,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = deferringTracer(provider.getTracer("test"), ids, sampler, {
    maxSpansPerTrace,
    onDropped: (n) => {
      dropped += n;
    },
  });
  const root = (name: string, traceparent?: string) => tracer.startSpan(name, {}, contextFrom(traceparent));
  const child = (parent: Span, name: string, startTime?: number) =>
    tracer.startSpan(name, startTime === undefined ? {} : { startTime }, trace.setSpan(ROOT_CONTEXT, parent));
  const spans = () => exporter.getFinishedSpans();
  const names = () => spans().map((s) => s.name);
  return { root, child, spans, names, dropped: () => dropped };
}

describe("keep errors and denials, sample the rest", () => {
  it("exports an unsampled trace only when its root ends in error or denial", () => {
    const t = setup(0);
    const ok = t.root("ok");
    t.child(ok, "ok.child").end();
    ok.end();
    const failed = t.root("failed");
    t.child(failed, "failed.child").end();
    failed.setStatus({ code: SpanStatusCode.ERROR });
    failed.end();
    const denied = t.root("denied");
    denied.setAttribute("xbus.decision", "deny");
    denied.end();
    expect(t.names()).toEqual(["failed", "failed.child", "denied"]);
    expect(t.spans().map((s) => s.attributes["xbus.kept"])).toEqual(["error", "error", "denial"]);
  });

  it("makes a kept span with the ids it propagated, its times, parent, attributes and status", () => {
    const t = setup(0);
    const consumer = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    const root = t.root("root", consumer);
    const sentDownstream = traceparentOf(root);
    const started = Date.now() - 50;
    const child = t.child(root, "child", started);
    child.setAttributes({ "xbus.reason": "POLICY_DENIED" });
    child.end(started + 10);
    root.setAttribute("xbus.decision", "deny");
    root.end();
    const [r, c] = t.spans();
    // The trace's flag stays 00 downstream; the ids are those the exported spans carry.
    expect(sentDownstream).toBe(`00-0af7651916cd43dd8448eb211c80319c-${r?.spanContext().spanId}-00`);
    expect(r?.parentSpanContext?.spanId).toBe("b7ad6b7169203331");
    expect(c?.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(c?.parentSpanContext?.spanId).toBe(r?.spanContext().spanId);
    expect(c?.attributes["xbus.reason"]).toBe("POLICY_DENIED");
    const ms = (t: [number, number] | undefined) => (t ? t[0] * 1e3 + t[1] / 1e6 : Number.NaN);
    expect(ms(c?.startTime)).toBeCloseTo(started, 0);
    expect(ms(c?.endTime)).toBeCloseTo(started + 10, 0);
    expect(r?.spanContext().traceFlags).toBe(1);
  });

  it("passes sampled traces straight through, as the SDK's own spans", () => {
    const t = setup(1);
    const r = t.root("r");
    expect(r.isRecording()).toBe(true);
    t.child(r, "c").end();
    r.end();
    expect(t.names()).toEqual(["c", "r"]);
    expect(t.spans().every((s) => s.attributes["xbus.kept"] === undefined)).toBe(true);
  });

  it("follows a sampled parent and does not record under an unsampled one", () => {
    const t = setup(1);
    const unsampled = t.root("u", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
    expect(unsampled.isRecording()).toBe(false);
    unsampled.end();
    const sampled = t.root("s", "00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(sampled.isRecording()).toBe(true);
    sampled.end();
    expect(t.names()).toEqual(["s"]);
  });

  it("makes a span of a kept trace that ends after its root, under the made root", () => {
    const t = setup(0);
    const r = t.root("r");
    const late = t.child(r, "late");
    r.setStatus({ code: SpanStatusCode.ERROR });
    r.end();
    late.end();
    expect(t.names()).toEqual(["r", "late"]);
    expect(t.spans()[1]?.parentSpanContext?.spanId).toBe(t.spans()[0]?.spanContext().spanId);
  });

  it("notes a bounded number of spans per trace and counts what it had to drop", () => {
    const t = setup(0, 2);
    const r = t.root("r");
    for (const name of ["a", "b", "c"]) t.child(r, name).end();
    expect(t.dropped()).toBe(1);
    r.setStatus({ code: SpanStatusCode.ERROR });
    r.end();
    expect(t.names()).toEqual(["r", "a", "b"]);
  });
});
