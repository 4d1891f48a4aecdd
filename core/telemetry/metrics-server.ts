import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Telemetry } from "./telemetry.js";

export interface MetricsServer {
  /** `http://127.0.0.1:PORT/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

/** Named readiness checks, as the review API's `/readyz` reports them. */
export type ReadinessChecks = Record<string, { ok: boolean; detail?: string }>;

/**
 * `GET /metrics` for a process with no HTTP server of its own (a connector),
 * and `GET /healthz` (liveness) and `GET /readyz` (200 when every check is ok,
 * else 503) in the review API's shape. Loopback by default: expose it to the
 * scraper deliberately.
 */
export async function serveMetrics(
  telemetry: Telemetry,
  opts: { hostname?: string; port?: number; ready?: () => ReadinessChecks } = {},
): Promise<MetricsServer> {
  const hostname = opts.hostname ?? "127.0.0.1";
  const json = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/healthz") {
      json(res, 200, { status: "ok" });
      return;
    }
    if (req.method === "GET" && req.url === "/readyz") {
      const checks = opts.ready?.() ?? {};
      const ok = Object.values(checks).every((c) => c.ok);
      json(res, ok ? 200 : 503, { ready: ok, checks });
      return;
    }
    if (req.method !== "GET" || req.url !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    telemetry.prometheusText().then(
      (text) => res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE }).end(text),
      () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n"),
    );
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, hostname, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${hostname}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
