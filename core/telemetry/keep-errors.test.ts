import { ROOT_CONTEXT, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { KeepErrorsProcessor, keepErrorsSampler } from "./keep-errors.js";

function setup(ratio: number, maxTraces = 16) {
  const exporter = new InMemorySpanExporter();
  let evicted = 0;
  const provider = new BasicTracerProvider({
    sampler: keepErrorsSampler(ratio),
    spanProcessors: [
      new KeepErrorsProcessor(new SimpleSpanProcessor(exporter), {
        maxTraces,
        onEvicted: (n) => {
          evicted += n;
        },
      }),
    ],
  });
  const tracer = provider.getTracer("test");
  const root = (name: string) => tracer.startSpan(name);
  const child = (parent: ReturnType<typeof root>, name: string) =>
    tracer.startSpan(name, {}, trace.setSpan(ROOT_CONTEXT, parent));
  const names = () => exporter.getFinishedSpans().map((s) => s.name);
  return { root, child, names, evicted: () => evicted };
}

describe("keep errors and denials, sample the rest", () => {
  it("exports an unsampled trace, children first, only when its root ends in error or denial", () => {
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
    expect(t.names()).toEqual(["failed.child", "failed", "denied"]);
  });

  it("passes sampled traces straight through", () => {
    const t = setup(1);
    const r = t.root("r");
    t.child(r, "c").end();
    r.end();
    expect(t.names()).toEqual(["c", "r"]);
  });

  it("keeps spans of a kept trace that end after its root", () => {
    const t = setup(0);
    const r = t.root("r");
    const late = t.child(r, "late");
    r.setStatus({ code: SpanStatusCode.ERROR });
    r.end();
    late.end();
    expect(t.names()).toEqual(["r", "late"]);
  });

  it("holds a bounded number of traces and counts what it had to drop", () => {
    const t = setup(0, 2);
    const a = t.root("a");
    t.child(a, "a.child").end();
    const b = t.root("b");
    const c = t.root("c"); // evicts a, which held one span
    expect(t.evicted()).toBe(1);
    for (const s of [a, b, c]) {
      s.setStatus({ code: SpanStatusCode.ERROR });
      s.end();
    }
    expect(t.names()).toEqual(["b", "c"]);
  });
});
