import { createHash } from "node:crypto";
import type { ExchangeFact } from "../indexer/log-index.js";

/**
 * Alerts for the security team, derived from the exchange log index on each call.
 *
 * Nothing is stored: the index is derived data (`xbus log reindex` rebuilds it), so an alert is a
 * view of the log over a time window, not a ticket; there is no acknowledge state to lose.
 */

export type AlertRule = "bulk_lookup" | "denials" | "off_hours";
export const ALERT_RULES: readonly AlertRule[] = ["bulk_lookup", "denials", "off_hours"];

export type Weekday = "Sun" | "Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat";
const WEEKDAYS: readonly Weekday[] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** `ReviewOptions.alerts`: every field has a default; `false` turns a rule off. */
export interface AlertOptions {
  /** One consumer read at least `subjects` distinct subjects within `windowMs` (allowed exchanges). */
  bulkLookup?: { subjects?: number; windowMs?: number } | false;
  /** One consumer had at least `count` exchanges refused (deny or invalid) within `windowMs`. */
  denials?: { count?: number; windowMs?: number } | false;
  /** Allowed exchanges outside office hours: `start` ≤ local time < `end` on `days`, in `timeZone`. */
  offHours?: { timeZone?: string; start?: string; end?: string; days?: readonly Weekday[] } | false;
  /** The longest `from`..`to` a request may ask for (default 31 days). */
  maxWindowMs?: number;
  /** The most exchanges one request reads from the index (default 200 000). */
  maxScan?: number;
  /** Exchanges listed per alert (default 100); `count` stays the real total. */
  maxExchangesPerAlert?: number;
}

export interface AlertConfig {
  bulkLookup: { subjects: number; windowMs: number } | undefined;
  denials: { count: number; windowMs: number } | undefined;
  offHours:
    | {
        timeZone: string;
        start: string;
        end: string;
        days: readonly Weekday[];
        startMin: number;
        endMin: number;
      }
    | undefined;
  maxWindowMs: number;
  maxScan: number;
  maxExchangesPerAlert: number;
}

export interface AlertExchangeJson {
  index: number;
  exchange_id: string;
  time: number;
  service: string;
  decision: string;
}

export interface AlertJson {
  id: string;
  rule: AlertRule;
  consumer: string;
  first_at: number;
  last_at: number;
  /** Every exchange behind the alert, even those not listed. */
  count: number;
  /** True when `exchanges` lists fewer than `count`. */
  truncated: boolean;
  summary: string;
  /** Oldest first, the first `maxExchangesPerAlert` of them. */
  exchanges: AlertExchangeJson[];
}

/** `GET /v1/alerts` as the API answers it (README, "Alerts"). */
export interface AlertsJson {
  from: number;
  to: number;
  complete: boolean;
  scanned_to: number;
  rules: Record<string, unknown>;
  alerts: AlertJson[];
}

/** Defaults filled in and every value checked: a bad setting stops the server at start, not a request. */
export function resolveAlertOptions(o: AlertOptions = {}): AlertConfig {
  const positiveInt = (v: number | undefined, fallback: number, name: string) => {
    const n = v ?? fallback;
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`alerts.${name} must be a positive integer`);
    return n;
  };
  const offHours = o.offHours === false ? undefined : (o.offHours ?? {});
  let off: AlertConfig["offHours"];
  if (offHours) {
    const timeZone = offHours.timeZone ?? "UTC";
    try {
      new Intl.DateTimeFormat("en-US", { timeZone });
    } catch {
      throw new RangeError(`alerts.offHours.timeZone is not an IANA time zone: ${timeZone}`);
    }
    const start = offHours.start ?? "07:00";
    const end = offHours.end ?? "19:00";
    const startMin = clockMinutes(start, "alerts.offHours.start");
    const endMin = clockMinutes(end, "alerts.offHours.end");
    if (startMin >= endMin) throw new RangeError("alerts.offHours.start must be before alerts.offHours.end");
    const days = offHours.days ?? ["Mon", "Tue", "Wed", "Thu", "Fri"];
    for (const d of days)
      if (!WEEKDAYS.includes(d))
        throw new RangeError(`alerts.offHours.days: ${String(d)} is not one of ${WEEKDAYS.join(", ")}`);
    off = { timeZone, start, end, days, startMin, endMin };
  }
  return {
    bulkLookup:
      o.bulkLookup === false
        ? undefined
        : {
            subjects: positiveInt(o.bulkLookup?.subjects, 100, "bulkLookup.subjects"),
            windowMs: positiveInt(o.bulkLookup?.windowMs, HOUR, "bulkLookup.windowMs"),
          },
    denials:
      o.denials === false
        ? undefined
        : {
            count: positiveInt(o.denials?.count, 10, "denials.count"),
            windowMs: positiveInt(o.denials?.windowMs, 10 * MINUTE, "denials.windowMs"),
          },
    offHours: off,
    maxWindowMs: positiveInt(o.maxWindowMs, 31 * DAY, "maxWindowMs"),
    maxScan: positiveInt(o.maxScan, 200_000, "maxScan"),
    maxExchangesPerAlert: positiveInt(o.maxExchangesPerAlert, 100, "maxExchangesPerAlert"),
  };
}

/** The rules as they run, for the response: a reviewer sees which thresholds produced the list. */
export function alertRulesJson(cfg: AlertConfig): Record<string, unknown> {
  return {
    ...(cfg.bulkLookup && {
      bulk_lookup: { subjects: cfg.bulkLookup.subjects, window_ms: cfg.bulkLookup.windowMs },
    }),
    ...(cfg.denials && { denials: { count: cfg.denials.count, window_ms: cfg.denials.windowMs } }),
    ...(cfg.offHours && {
      off_hours: {
        time_zone: cfg.offHours.timeZone,
        start: cfg.offHours.start,
        end: cfg.offHours.end,
        days: cfg.offHours.days,
      },
    }),
  };
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
  const offHours = off && offHoursTest(off);
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

interface AlertKind {
  rule: AlertRule;
  consumer: string;
  /** Track the distinct subjects (bulk lookups) rather than only count exchanges. */
  distinct: boolean;
  /** Exchanges listed per alert. */
  limit: number;
}

/** One alert being assembled: every exchange counted, the first `limit` listed. */
class AlertBuilder {
  count = 0;
  last: ExchangeFact;
  readonly listed: ExchangeFact[] = [];
  readonly subjects: Set<string> | undefined;

  constructor(
    private readonly kind: AlertKind,
    readonly first: ExchangeFact,
  ) {
    this.last = first;
    this.subjects = kind.distinct ? new Set() : undefined;
  }

  get consumer(): string {
    return this.kind.consumer;
  }

  add(f: ExchangeFact): void {
    this.count++;
    this.last = f;
    this.subjects?.add(f.subjectRef);
    if (this.listed.length < this.kind.limit) this.listed.push(f);
  }

  toJson(summary: string): AlertJson {
    return {
      id: alertId(this.kind.rule, this.consumer, this.first),
      rule: this.kind.rule,
      consumer: this.consumer,
      first_at: this.first.time,
      last_at: this.last.time,
      count: this.count,
      truncated: this.listed.length < this.count,
      summary,
      exchanges: this.listed.map((f) => ({
        index: f.index,
        exchange_id: f.exchangeId,
        time: f.time,
        service: f.service,
        decision: f.decision,
      })),
    };
  }
}

/**
 * A sliding window over one consumer's exchanges (time-ordered): the window ending at each exchange
 * holds those less than `windowMs` older than it. When it reaches the threshold (distinct subjects, or
 * exchanges), its exchanges join an alert; windows that overlap one alert extend it rather than start
 * another, so each exchange belongs to at most one alert and no burst is missed at a clock boundary.
 */
class BurstDetector {
  private readonly window: { seq: number; f: ExchangeFact }[] = [];
  private head = 0;
  private seq = 0;
  private readonly perSubject = new Map<string, number>();
  private open: { builder: AlertBuilder; lastSeq: number } | undefined;

  private readonly distinct: boolean;

  constructor(
    private readonly kind: AlertKind & { summarize: (b: AlertBuilder) => string },
    private readonly threshold: number,
    private readonly windowMs: number,
    private readonly out: AlertJson[],
  ) {
    this.distinct = kind.distinct;
  }

  add(f: ExchangeFact): void {
    const seq = ++this.seq;
    this.window.push({ seq, f });
    if (this.distinct) this.perSubject.set(f.subjectRef, (this.perSubject.get(f.subjectRef) ?? 0) + 1);
    for (let oldest = this.window[this.head]; oldest && f.time - oldest.f.time >= this.windowMs; ) {
      if (this.distinct) {
        const n = (this.perSubject.get(oldest.f.subjectRef) ?? 1) - 1;
        if (n === 0) this.perSubject.delete(oldest.f.subjectRef);
        else this.perSubject.set(oldest.f.subjectRef, n);
      }
      oldest = this.window[++this.head];
    }
    if (this.head > 1024 && this.head * 2 > this.window.length) {
      this.window.splice(0, this.head);
      this.head = 0;
    }
    const size = this.distinct ? this.perSubject.size : this.window.length - this.head;
    if (size < this.threshold) return;

    const firstSeq = this.window[this.head]?.seq ?? seq;
    if (!this.open || this.open.lastSeq < firstSeq) {
      this.finish();
      const first = this.window[this.head]?.f ?? f;
      this.open = {
        builder: new AlertBuilder(this.kind, first),
        lastSeq: firstSeq - 1,
      };
    }
    // Window entries have consecutive sequence numbers: start right after the last one taken.
    for (let i = this.head + (this.open.lastSeq + 1 - firstSeq); i < this.window.length; i++) {
      const e = this.window[i];
      if (e) this.open.builder.add(e.f);
    }
    this.open.lastSeq = seq;
  }

  finish(): void {
    if (this.open) this.out.push(this.open.builder.toJson(this.kind.summarize(this.open.builder)));
    this.open = undefined;
  }
}

/** Stable for the same rule, consumer and first exchange, so a reviewer can refer to it across calls. */
function alertId(rule: AlertRule, consumer: string, first: ExchangeFact): string {
  return createHash("sha256")
    .update(`${rule}\n${consumer}\n${first.index}\n${first.exchangeId}`)
    .digest("hex")
    .slice(0, 16);
}

/** Whether a time falls outside office hours; one Intl call per distinct minute, which a busy log repeats. */
function offHoursTest(off: NonNullable<AlertConfig["offHours"]>): (time: number) => boolean {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: off.timeZone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  const days = new Set<string>(off.days);
  const cache = new Map<number, boolean>();
  return (time) => {
    // Every time zone's offset is a whole number of minutes, so the minute decides.
    const minute = Math.floor(time / MINUTE);
    let outside = cache.get(minute);
    if (outside === undefined) {
      let weekday = "";
      let hour = 0;
      let min = 0;
      for (const p of format.formatToParts(minute * MINUTE)) {
        if (p.type === "weekday") weekday = p.value;
        else if (p.type === "hour") hour = Number(p.value);
        else if (p.type === "minute") min = Number(p.value);
      }
      const local = hour * 60 + min;
      outside = !days.has(weekday) || local < off.startMin || local >= off.endMin;
      cache.set(minute, outside);
    }
    return outside;
  };
}

function clockMinutes(value: string, name: string): number {
  const m =
    /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(value) ?? (value === "24:00" ? [value, "24", "00"] : null);
  if (!m) throw new RangeError(`${name} must be a time of day as HH:MM (00:00 to 24:00)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

function duration(ms: number): string {
  if (ms % HOUR === 0) return `${ms / HOUR} h`;
  if (ms % MINUTE === 0) return `${ms / MINUTE} min`;
  return `${ms / 1000} s`;
}
