import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MetricsServer, serveMetrics } from "./metrics-server.js";
import { countNatsReconnects } from "./nats-reconnects.js";
import { createTelemetry, type Telemetry } from "./telemetry.js";

describe("a connector's /metrics listener", () => {
  let telemetry: Telemetry;
  let server: MetricsServer;
  let natsUp = true;
  beforeAll(async () => {
    telemetry = createTelemetry({ serviceName: "xbus-connector-test", env: {} });
    server = await serveMetrics(telemetry, { ready: () => ({ nats: { ok: natsUp, detail: "test" } }) });
  });
  afterAll(async () => {
    await server?.close();
    await telemetry?.shutdown();
  });

  it("serves Prometheus text on loopback, and nothing else", async () => {
    expect(telemetry.tracer).toBeUndefined(); // no OTLP endpoint: tracing is off
    telemetry.metrics.connectorDone({ agency: "dcrc", service: "dcrc.citizen-record", status: "OK" }, 0.002);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toContain(
      'xbus_connector_requests_total{agency="dcrc",service="dcrc.citizen-record",status="OK"} 1',
    );
    expect(text).toContain("# TYPE xbus_connector_duration_seconds histogram");
    expect((await fetch(server.url.replace("/metrics", "/other"))).status).toBe(404);
  });

  it("answers liveness always and readiness from its checks", async () => {
    const at = (path: string) => fetch(server.url.replace("/metrics", path));
    expect(await (await at("/healthz")).json()).toEqual({ status: "ok" });
    const ready = await at("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { nats: { ok: true, detail: "test" } } });
    natsUp = false;
    const notReady = await at("/readyz");
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ ready: false });
  });
});

/** The counters README's metrics table lists, `_failed_total` shorthand spelled out. */
function readmeCounters(): string[] {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const names: string[] = [];
  for (const row of readme.split("\n").filter((l) => /^\| `xbus_\w+`.*\| counter \|/.test(l))) {
    const cell = row.split("|")[1] ?? "";
    let stem = "";
    for (const [, n] of cell.matchAll(/`(\w+)`/g)) {
      if (n === undefined) continue;
      if (n.startsWith("xbus_")) {
        names.push(n);
        stem = n.slice(0, n.lastIndexOf("_", n.length - "_total".length - 1));
      } else names.push(`${stem}${n}`);
    }
  }
  return names;
}

describe("a freshly started component's /metrics", () => {
  it("shows every counter README lists at 0, for the label sets known at start", async () => {
    const telemetry = createTelemetry({ serviceName: "xbus-connector-test", env: {} });
    // A NATS connection that has not reconnected (and never will, here).
    const nc = {
      status: () => ({ [Symbol.asyncIterator]: () => ({ next: () => new Promise<never>(() => {}) }) }),
    };
    countNatsReconnects(nc, telemetry.metrics, "connector-dcrc");
    const server = await serveMetrics(telemetry, {});
    try {
      const text = await (await fetch(server.url)).text();
      const counters = readmeCounters();
      expect(counters).toContain("xbus_telemetry_spans_dropped_total");
      // Their labels (decision, status) are known only once an exchange happens: no series is made up.
      const onlyOnceCounted = ["xbus_exchanges_total", "xbus_connector_requests_total"];
      for (const name of counters.filter((n) => !onlyOnceCounted.includes(n)))
        expect(text, name).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? 0$`, "m"));
      expect(text).toContain('xbus_nats_reconnects_total{component="connector-dcrc"} 0');
      for (const name of onlyOnceCounted) expect(text).not.toContain(`${name}{`);
    } finally {
      await server.close();
      await telemetry.shutdown();
    }
  });
});
