import { Hono } from "hono";
import type { LogIndexReader } from "../../indexer/log-index.js";

export interface HealthOptions {
  index: LogIndexReader;
  /** Readiness checks beyond the index itself (NATS, stream, lag). */
  ready?: () => Promise<Record<string, { ok: boolean; detail?: string }>>;
}

/**
 * Liveness and readiness, for the operator's probes: no token, no log data. Metrics are not served on
 * the review API's port (serveMetrics, on a port of its own: README, "Metrics").
 */
export function healthRoutes({ index, ready }: HealthOptions): Hono {
  return new Hono()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", async (c) => {
      const checks = {
        index: { ok: true, detail: `tree_size ${index.treeSize}` },
        ...((await ready?.()) ?? {}),
      };
      const ok = Object.values(checks).every((x) => x.ok);
      return c.json({ ready: ok, checks }, ok ? 200 : 503);
    });
}
