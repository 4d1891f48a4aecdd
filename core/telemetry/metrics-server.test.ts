import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MetricsServer, serveMetrics } from "./metrics-server.js";
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
