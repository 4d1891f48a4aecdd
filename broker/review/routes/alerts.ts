import { Hono } from "hono";
import { alertRulesJson } from "../alert-options.js";
import { ALERT_RULES, type AlertsJson, computeAlerts } from "../alerts.js";
import type { ReviewParams } from "../params.js";
import type { ReviewContext } from "./context.js";

/** Alerts over a window of the log, computed on each call (README, "Alerts"). */
export function alertRoutes({ index, alerts }: ReviewContext, p: ReviewParams): Hono {
  const rules = alertRulesJson(alerts);
  return new Hono().get("/v1/alerts", p.alerts, (c) => {
    const { rule, from, to } = c.req.valid("query");
    // A bounded scan: past maxScan exchanges, the answer covers [from, scanned_to) and says so.
    const stop = index.timeAfter(from, to, alerts.maxScan);
    const scannedTo = stop ?? to;
    const body: AlertsJson = {
      from,
      to,
      complete: stop === undefined,
      scanned_to: scannedTo,
      rules,
      alerts: computeAlerts(
        index.exchangeFacts(from, scannedTo, alerts.maxScan),
        alerts,
        new Set(rule === undefined ? ALERT_RULES : [rule]),
      ),
    };
    return c.json(body);
  });
}
