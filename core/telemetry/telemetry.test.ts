import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { createTelemetry } from "./telemetry.js";

describe("createTelemetry from OTEL_* settings", () => {
  it("leaves tracing off without an endpoint, or when the SDK is disabled", async () => {
    const none = createTelemetry({ serviceName: "t", env: {} });
    const disabled = createTelemetry({
      serviceName: "t",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1", OTEL_SDK_DISABLED: "true" },
    });
    expect(none.tracer).toBeUndefined();
    expect(disabled.tracer).toBeUndefined();
    await Promise.all([none.shutdown(), disabled.shutdown()]);
  });

  it("exports to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces and counts what was delivered", async () => {
    const paths: string[] = [];
    const collector = createServer((req, res) => {
      paths.push(`${req.method} ${req.url}`);
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
    });
    await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r));
    const { port } = collector.address() as { port: number };
    try {
      const t = createTelemetry({
        serviceName: "t",
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}/`, OTEL_TRACES_SAMPLER: "always_on" },
      });
      t.tracer?.startSpan("one").end();
      t.tracer?.startSpan("two").end();
      await t.forceFlush();
      expect(paths).toEqual(["POST /v1/traces"]);
      expect(await t.prometheusText()).toMatch(/^xbus_telemetry_spans_exported_total 2$/m);
      await t.shutdown();
    } finally {
      collector.close();
    }
  });
});
