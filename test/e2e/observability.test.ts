import { createServer } from "node:net";
import { Metadata, status } from "@grpc/grpc-js";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/index.js";
import { createTelemetry, SpanName } from "../../core/telemetry/index.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";

const SERVICE = "dcrc.citizen-record";
const PURPOSE = "scholarship-eligibility";
const CONSUMER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CONSUMER_SPAN = "00f067aa0ba902b7";

function withTraceparent(tp: string): { metadata: Metadata; deadline: number } {
  const metadata = new Metadata();
  metadata.set("traceparent", tp);
  return { metadata, deadline: deadline().deadline };
}

/** The value of one Prometheus sample whose labels include all of `labels`; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

describe("traces, metrics and logs of the end-to-end path (adapter behind gRPC)", () => {
  const spans = new InMemorySpanExporter();
  const lines: string[] = [];
  let stack: TestStack;
  const subjects: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack({
      telemetry: createTelemetry({ serviceName: "xbus-test", spanExporter: spans, sampleRatio: 1 }),
      logger: createLogger({}, "debug", (l) => lines.push(l)),
      traceUrlTemplate: "http://traces.example/trace/{trace_id}",
    });
    subjects.push(...stack.population.citizens.slice(0, 4).map((c) => c.id));
  });
  afterAll(async () => {
    await stack?.close();
    await stack?.telemetry.shutdown();
  });

  it("one Fetch is one trace under the consumer's traceparent: broker, connector and adapter, parented", async () => {
    const res = await stack
      .client()
      .fetch(
        { service: SERVICE, subjectId: subjects[0], purpose: PURPOSE },
        withTraceparent(`00-${CONSUMER_TRACE}-${CONSUMER_SPAN}-01`),
      );
    const mine = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === CONSUMER_TRACE);
    const one = (name: string): ReadableSpan => {
      const found = mine.filter((s) => s.name === name);
      expect(found, name).toHaveLength(1);
      return found[0] as ReadableSpan;
    };
    const exchange = one(SpanName.exchange);
    expect(exchange.parentSpanContext?.spanId).toBe(CONSUMER_SPAN);
    expect(exchange.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "xbus.v1.Exchange",
      "rpc.method": "Fetch",
      "xbus.decision": "allow",
      "xbus.exchange_id": res.exchangeId,
    });
    const id = exchange.spanContext().spanId;
    for (const stage of [SpanName.identity, SpanName.validation, SpanName.policy, SpanName.logAppend])
      expect(one(stage).parentSpanContext?.spanId, stage).toBe(id);
    const routing = one(SpanName.routing);
    expect(routing.parentSpanContext?.spanId).toBe(id);
    expect(routing.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.destination.name": "xbus.svc.dcrc.citizen-record",
    });
    const connector = one(SpanName.connector);
    expect(connector.parentSpanContext?.spanId).toBe(routing.spanContext().spanId);
    const adapter = one(SpanName.adapter);
    expect(adapter.parentSpanContext?.spanId).toBe(connector.spanContext().spanId);
    expect(mine).toHaveLength(8);
    // The exchange log carries the same trace, and the review API links to it.
    expect(stack.outcomes.find((o) => o.exchangeId === res.exchangeId)?.traceId).toBe(CONSUMER_TRACE);
    const review = stack.review;
    if (!review) throw new Error("the stack has no review API");
    let view: Response;
    // The indexer catches up asynchronously: wait for the entry, however long that takes.
    for (;;) {
      view = await fetch(`${review.url}/v1/exchanges/${res.exchangeId}`, {
        headers: { authorization: `Bearer ${review.token}` },
      });
      if (view.status !== 404) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const body = (await view.json()) as { trace_url: string; record: { trace_id: string } };
    expect(body.record.trace_id).toBe(CONSUMER_TRACE);
    expect(body.trace_url).toBe(`http://traces.example/trace/${CONSUMER_TRACE}`);
  });

  it("starts its own trace when the consumer sends none, and logs it with the exchange", async () => {
    const res = await stack
      .client()
      .fetch({ service: SERVICE, subjectId: subjects[1], purpose: PURPOSE }, deadline());
    const traceId = stack.outcomes.find((o) => o.exchangeId === res.exchangeId)?.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const names = spans
      .getFinishedSpans()
      .filter((s) => s.spanContext().traceId === traceId)
      .map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining([SpanName.exchange, SpanName.connector, SpanName.adapter]));
    const done = lines
      .map((l) => JSON.parse(l))
      .find((l) => l.exchange_id === res.exchangeId && l.msg === "exchange done");
    expect(done).toMatchObject({ level: "debug", trace_id: traceId, decision: "allow", status: "OK" });
  });

  it("counts allowed, denied and failed exchanges on /metrics", async () => {
    const scrape = async () => (await fetch(stack.metricsUrl)).text();
    const before = await scrape();
    const labels = (decision: string, s: string) => ({
      service: SERVICE,
      consumer_agency: "moe",
      decision,
      status: s,
    });
    const count = (text: string, decision: string, s: string) =>
      sample(text, "xbus_exchanges_total", labels(decision, s));

    for (const s of subjects.slice(0, 3))
      await stack.client().fetch({ service: SERVICE, subjectId: s, purpose: PURPOSE }, deadline());
    for (let i = 0; i < 2; i++) {
      const err = await failure(
        stack
          .client()
          .fetch({ service: SERVICE, subjectId: subjects[0], purpose: "licence-renewal" }, deadline()),
      );
      expect(err.code).toBe(status.PERMISSION_DENIED);
    }
    await stack.stopConnector();
    try {
      const err = await failure(
        stack.client().fetch({ service: SERVICE, subjectId: subjects[0], purpose: PURPOSE }, deadline()),
      );
      expect(err.reason).toBe("PROVIDER_UNAVAILABLE");
    } finally {
      await stack.startConnector();
    }

    const after = await scrape();
    expect(count(after, "allow", "OK") - count(before, "allow", "OK")).toBe(3);
    expect(count(after, "deny", "POLICY_DENIED") - count(before, "deny", "POLICY_DENIED")).toBe(2);
    expect(
      count(after, "error", "PROVIDER_UNAVAILABLE") - count(before, "error", "PROVIDER_UNAVAILABLE"),
    ).toBe(1);
    // Latency histograms for the whole exchange and each stage, with the policy and log ones by name.
    expect(
      sample(after, "xbus_exchange_duration_seconds_count", { service: SERVICE }),
    ).toBeGreaterThanOrEqual(6);
    for (const stage of ["identity", "validation", "policy", "routing", "log_append"])
      expect(sample(after, "xbus_exchange_stage_duration_seconds_count", { stage }), stage).toBeGreaterThan(
        0,
      );
    expect(sample(after, "xbus_policy_decision_duration_seconds_count")).toBeGreaterThanOrEqual(6);
    expect(sample(after, "xbus_log_append_duration_seconds_count")).toBeGreaterThanOrEqual(6);
    expect(
      sample(after, "xbus_connector_requests_total", { agency: "dcrc", status: "OK" }),
    ).toBeGreaterThanOrEqual(3);
    expect(sample(after, "xbus_exchanges_in_flight")).toBe(0);
    expect(sample(after, "xbus_connector_in_flight", { agency: "dcrc" })).toBe(0);
    expect(after).toMatch(/^xbus_log_index_lag(\{[^}]*\})? \d+/m);
    expect(sample(after, "xbus_certificate_days_to_expiry", { certificate: "broker" })).toBeGreaterThan(1);
  });

  it("puts no citizen ID in any span attribute or log line", async () => {
    // A denial and a not-found as well, so error paths are covered too.
    await failure(
      stack
        .client()
        .fetch({ service: SERVICE, subjectId: subjects[3], purpose: "licence-renewal" }, deadline()),
    );
    await failure(
      stack.client().fetch({ service: SERVICE, subjectId: "99999999999", purpose: PURPOSE }, deadline()),
    );
    const finished = spans.getFinishedSpans();
    expect(finished.length).toBeGreaterThan(20);
    expect(lines.length).toBeGreaterThan(10);
    const text = [
      ...finished.map((s) => JSON.stringify({ name: s.name, a: s.attributes, st: s.status, ev: s.events })),
      ...lines,
    ].join("\n");
    const ids = new Set([...stack.population.citizens.map((c) => c.id), "99999999999"]);
    const leaked = [...text.matchAll(/\d{11}/g)].map((m) => m[0]).filter((d) => ids.has(d));
    expect(leaked).toEqual([]);
    for (const s of subjects) expect(text).not.toContain(s);
  });
});

describe("sampling: 0% of roots, yet errors and denials are kept, and a sampled parent is followed", () => {
  const spans = new InMemorySpanExporter();
  let stack: TestStack;
  let subject: string;
  beforeAll(async () => {
    stack = await startTestStack({
      inProcessAdapter: true,
      telemetry: createTelemetry({ serviceName: "xbus-test", spanExporter: spans, sampleRatio: 0 }),
    });
    subject = stack.population.citizens[0]?.id ?? "";
  });
  afterAll(async () => {
    await stack?.close();
    await stack?.telemetry.shutdown();
  });

  const traceOf = (exchangeId: string) => stack.outcomes.find((o) => o.exchangeId === exchangeId)?.traceId;
  const exported = (traceId: string | undefined) =>
    spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);

  it("drops an allowed exchange's trace", async () => {
    const res = await stack
      .client()
      .fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline());
    expect(traceOf(res.exchangeId)).toMatch(/^[0-9a-f]{32}$/);
    expect(exported(traceOf(res.exchangeId))).toEqual([]);
  });

  it("keeps a denial's whole broker trace", async () => {
    const err = await failure(
      stack.client().fetch({ service: SERVICE, subjectId: subject, purpose: "licence-renewal" }, deadline()),
    );
    expect(err.reason).toBe("POLICY_DENIED");
    const kept = exported(stack.outcomes.at(-1)?.traceId);
    const names = kept.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([SpanName.exchange, SpanName.identity, SpanName.validation, SpanName.policy]),
    );
    // Unsampled, the steps were noted and made spans only once the denial kept the trace: still children
    // of the exchange span, inside its time, the policy step carrying the denial.
    const root = kept.find((s) => s.name === SpanName.exchange);
    const policy = kept.find((s) => s.name === SpanName.policy);
    const ns = (t: [number, number] | undefined) => (t ? t[0] * 1e9 + t[1] : Number.NaN);
    expect(policy?.parentSpanContext?.spanId).toBe(root?.spanContext().spanId);
    expect(ns(policy?.startTime)).toBeGreaterThanOrEqual(ns(root?.startTime) - 1e6);
    expect(ns(policy?.endTime)).toBeLessThanOrEqual(ns(root?.endTime) + 1e6);
    expect(policy?.attributes["xbus.reason"]).toBe("POLICY_DENIED");
  });

  it("keeps a provider failure's trace", async () => {
    await stack.stopConnector();
    try {
      await failure(
        stack.client().fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline()),
      );
    } finally {
      await stack.startConnector();
    }
    const exchange = exported(stack.outcomes.at(-1)?.traceId).find((s) => s.name === SpanName.exchange);
    expect(exchange?.attributes["xbus.reason"]).toBe("PROVIDER_UNAVAILABLE");
    expect(exchange?.status.code).toBe(2); // SpanStatusCode.ERROR
  });

  it("follows a consumer's sampled flag, through the in-process adapter", async () => {
    const trace = "0af7651916cd43dd8448eb211c80319c";
    await stack
      .client()
      .fetch(
        { service: SERVICE, subjectId: subject, purpose: PURPOSE },
        withTraceparent(`00-${trace}-b7ad6b7169203331-01`),
      );
    const mine = exported(trace);
    const connector = mine.find((s) => s.name === SpanName.connector);
    const adapter = mine.find((s) => s.name === SpanName.adapter);
    expect(adapter?.parentSpanContext?.spanId).toBe(connector?.spanContext().spanId);
    expect(mine.find((s) => s.name === SpanName.exchange)?.parentSpanContext?.spanId).toBe(
      "b7ad6b7169203331",
    );
  });
});

describe("an unreachable OTLP collector", () => {
  let stack: TestStack;
  beforeAll(async () => {
    // A loopback port that was free a moment ago and has nothing listening now.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    stack = await startTestStack({
      telemetry: createTelemetry({
        serviceName: "xbus-test",
        otlp: { url: `http://127.0.0.1:${port}/v1/traces`, timeoutMillis: 300 },
        sampleRatio: 1,
      }),
    });
  });
  afterAll(async () => {
    await stack?.close();
    await stack?.telemetry.shutdown();
  });

  it("does not stop exchanges, and counts the spans it could not deliver", async () => {
    const subject = stack.population.citizens[0]?.id ?? "";
    for (let i = 0; i < 5; i++) {
      const res = await stack
        .client()
        .fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline());
      expect(res.exchangeId).toMatch(/^[0-9a-f-]{36}$/);
    }
    await stack.telemetry.forceFlush();
    const text = await stack.telemetry.prometheusText();
    expect(sample(text, "xbus_telemetry_spans_failed_total")).toBeGreaterThan(0);
    expect(sample(text, "xbus_telemetry_spans_exported_total")).toBe(0);
    expect(sample(text, "xbus_exchanges_total", { decision: "allow", status: "OK" })).toBe(5);
  });
});

describe("the test stack's own privacy guard", () => {
  it("fails a suite whose spans carry a citizen ID", async () => {
    const stack = await startTestStack();
    const id = stack.population.citizens[0]?.id ?? "";
    // Stands in for a careless instrumentation change.
    stack.telemetry.tracer?.startSpan("careless", { attributes: { "xbus.subject": id } }).end();
    await expect(stack.close()).rejects.toThrow(/citizen IDs reached span attributes or log lines/);
  });
});
