import type { ExchangeFact } from "../indexer/log-index.js";
import { AlertBuilder, type AlertJson, type AlertRule } from "./alert-builder.js";
import { type AlertConfig, HOUR, MINUTE } from "./alert-options.js";
import { BurstDetector } from "./burst-detector.js";
import { outsideOfficeHours } from "./off-hours.js";

/**
 * Alerts for the security team, derived from the exchange log index on each call.
 *
 * Nothing is stored: the index is derived data (`xbus log reindex` rebuilds it), so an alert is a
 * view of the log over a time window, not a ticket; there is no acknowledge state to lose.
 * The rules' options are in alert-options.ts, the two windowed rules run on burst-detector.ts, and
 * office hours are told apart in off-hours.ts.
 */

export { ALERT_RULES, type AlertExchangeJson, type AlertJson, type AlertRule } from "./alert-builder.js";
export {
  type AlertConfig,
  type AlertOptions,
  alertRulesJson,
  resolveAlertOptions,
  type Weekday,
} from "./alert-options.js";

/** `GET /v1/alerts` as the API answers it (README, "Alerts"). */
export interface AlertsJson {
  from: number;
  to: number;
  complete: boolean;
  scanned_to: number;
  rules: Record<string, unknown>;
  alerts: AlertJson[];
}

/**
 * Runs the enabled rules over exchanges in (time, index) order, in one pass. Memory is bounded by the
 * exchanges inside each consumer's sliding window plus the exchanges listed per alert.
 */
export function computeAlerts(
  facts: Iterable<ExchangeFact>,
  cfg: AlertConfig,
  rules: ReadonlySet<AlertRule>,
): AlertJson[] {
  const out: AlertJson[] = [];
  const bulk = rules.has("bulk_lookup") ? cfg.bulkLookup : undefined;
  const denials = rules.has("denials") ? cfg.denials : undefined;
  const off = rules.has("off_hours") ? cfg.offHours : undefined;
  const bulkByConsumer = new Map<string, BurstDetector>();
  const denialsByConsumer = new Map<string, BurstDetector>();
  const offByConsumer = new Map<string, AlertBuilder>();
  const offHours = off && outsideOfficeHours(off);
  const limit = cfg.maxExchangesPerAlert;
  const bulkSummary =
    bulk &&
    ((b: AlertBuilder) =>
      `${who(b.consumer)} read ${b.subjects?.size ?? 0} distinct subjects in ${b.count} allowed exchanges (threshold ${bulk.subjects} within ${duration(bulk.windowMs)})`);
  const denialsSummary =
    denials &&
    ((b: AlertBuilder) =>
      `${who(b.consumer)} had ${b.count} exchanges refused (threshold ${denials.count} within ${duration(denials.windowMs)})`);

  for (const f of facts) {
    if (f.decision === "allow") {
      if (bulk && bulkSummary && f.subjectRef !== "")
        stateOf(
          bulkByConsumer,
          f.consumer,
          (consumer) =>
            new BurstDetector(
              { rule: "bulk_lookup", consumer, distinct: true, limit, summarize: bulkSummary },
              bulk.subjects,
              bulk.windowMs,
              out,
            ),
        ).add(f);
      if (offHours?.(f.time))
        stateOf(
          offByConsumer,
          f.consumer,
          (consumer) => new AlertBuilder({ rule: "off_hours", consumer, distinct: false, limit }, f),
        ).add(f);
    } else if (denials && denialsSummary && (f.decision === "deny" || f.decision === "invalid")) {
      stateOf(
        denialsByConsumer,
        f.consumer,
        (consumer) =>
          new BurstDetector(
            { rule: "denials", consumer, distinct: false, limit, summarize: denialsSummary },
            denials.count,
            denials.windowMs,
            out,
          ),
      ).add(f);
    }
  }

  for (const d of bulkByConsumer.values()) d.finish();
  for (const d of denialsByConsumer.values()) d.finish();
  if (off)
    for (const a of offByConsumer.values())
      out.push(
        a.toJson(
          `${who(a.consumer)} made ${a.count} allowed exchanges outside office hours (${off.start}–${off.end} ${off.days.join(" ")}, ${off.timeZone})`,
        ),
      );

  return out.sort((a, b) => b.last_at - a.last_at || b.first_at - a.first_at || (a.id < b.id ? -1 : 1));
}

/** A rule's state for one consumer, made on that consumer's first exchange. */
function stateOf<T>(byConsumer: Map<string, T>, consumer: string, make: (consumer: string) => T): T {
  let state = byConsumer.get(consumer);
  if (state === undefined) {
    state = make(consumer);
    byConsumer.set(consumer, state);
  }
  return state;
}

function who(consumer: string): string {
  return consumer === "" ? "an unidentified caller" : consumer;
}

function duration(ms: number): string {
  if (ms % HOUR === 0) return `${ms / HOUR} h`;
  if (ms % MINUTE === 0) return `${ms / MINUTE} min`;
  return `${ms / 1000} s`;
}
