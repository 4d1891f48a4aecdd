import { Hono } from "hono";
import { parseWorkloadId } from "../../../core/contract/index.js";
import { ALERT_RULES, computeAlerts } from "../alerts.js";
import type { ReviewParams } from "../params.js";
import type { ExchangeStatsJson } from "../ui/api-types.js";
import type { ReviewContext } from "./context.js";

const MINUTE = 60_000;
/** Bucket widths the charts use: the narrowest that keeps a window to MAX_BUCKETS points. */
const BUCKETS = [MINUTE, 5 * MINUTE, 15 * MINUTE, 60 * MINUTE, 6 * 60 * MINUTE, 24 * 60 * MINUTE];
export const MAX_BUCKETS = 360;
const DECISIONS = ["allow", "deny", "invalid", "error"] as const;

/** `GET /v1/stats/exchanges` as the API answers it (README, "Charts"), typed once for the server and the page. */
export type { ExchangeStatsJson };

/** The smallest bucket width that covers the window in at most MAX_BUCKETS buckets. */
export function bucketFor(windowMs: number): number {
  return BUCKETS.find((b) => Math.ceil(windowMs / b) <= MAX_BUCKETS) ?? Math.ceil(windowMs / MAX_BUCKETS);
}

function agencyOf(consumer: string): string {
  try {
    return parseWorkloadId(consumer).agency;
  } catch {
    return "";
  }
}

/**
 * The security team's charts: exchanges over time by agency and by decision, and alerts, over a bounded
 * window (the alerts' longest) in at most MAX_BUCKETS buckets. Counts only: the table under a chart
 * reads the exchanges themselves from /v1/exchanges.
 */
export function statsRoutes({ index, alerts: cfg }: ReviewContext, p: ReviewParams): Hono {
  return new Hono().get("/v1/stats/exchanges", p.stats, (c) => {
    const { from, to } = c.req.valid("query");
    const bucketMs = bucketFor(to - from);
    const n = Math.ceil((to - from) / bucketMs);
    const zeros = () => new Array<number>(n).fill(0);
    const byAgency = new Map<string, number[]>();
    const byDecision = new Map<string, number[]>(DECISIONS.map((d) => [d, zeros()]));
    for (const row of index.exchangeCounts(from, to, bucketMs)) {
      const agency = agencyOf(row.consumer);
      const a = byAgency.get(agency) ?? zeros();
      a[row.bucket] = (a[row.bucket] ?? 0) + row.count;
      byAgency.set(agency, a);
      const d = byDecision.get(row.decision) ?? zeros();
      d[row.bucket] = (d[row.bucket] ?? 0) + row.count;
      byDecision.set(row.decision, d);
    }
    const stop = index.timeAfter(from, to, cfg.maxScan);
    const scannedTo = stop ?? to;
    const alerts = zeros();
    for (const a of computeAlerts(
      index.exchangeFacts(from, scannedTo, cfg.maxScan),
      cfg,
      new Set(ALERT_RULES),
    )) {
      const b = Math.floor((a.first_at - from) / bucketMs);
      if (b >= 0 && b < n) alerts[b] = (alerts[b] ?? 0) + 1;
    }
    const body: ExchangeStatsJson = {
      from,
      to,
      bucket_ms: bucketMs,
      times: Array.from({ length: n }, (_, i) => from + i * bucketMs),
      agencies: [...byAgency]
        .map(([agency, counts]) => ({ agency, counts }))
        .sort((x, y) => (x.agency < y.agency ? -1 : 1)),
      decisions: [...byDecision].map(([decision, counts]) => ({ decision, counts })),
      alerts,
      alerts_complete: stop === undefined,
      alerts_scanned_to: scannedTo,
    };
    return c.json(body);
  });
}
