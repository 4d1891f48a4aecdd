import { Hono } from "hono";
import { PROMETHEUS_CONTENT_TYPE } from "../../../core/telemetry/index.js";
import type { LogIndexReader } from "../../indexer/log-index.js";

export interface HealthOptions {
  index: LogIndexReader;
  /** Readiness checks beyond the index itself (NATS, stream, lag). */
  ready?: () => Promise<Record<string, { ok: boolean; detail?: string }>>;
  /** Prometheus text for `GET /metrics` (no token: scrapers hold none; it carries no citizen data). */
  metrics?: () => Promise<string>;
}

/** Liveness, readiness and metrics, for the operator's probes and scrapers: no token, no log data. */
export function healthRoutes({ index, ready, metrics }: HealthOptions): Hono {
  const app = new Hono()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", async (c) => {
      const checks = {
        index: { ok: true, detail: `tree_size ${index.treeSize}` },
        ...((await ready?.()) ?? {}),
      };
      const ok = Object.values(checks).every((x) => x.ok);
      return c.json({ ready: ok, checks }, ok ? 200 : 503);
    });
  if (metrics)
    app.get("/metrics", async (c) =>
      c.body(await metrics(), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }),
    );
  return app;
}
