import { createHash } from "node:crypto";
import type { ExchangeFact } from "../indexer/log-index.js";

export type AlertRule = "bulk_lookup" | "denials" | "off_hours";
export const ALERT_RULES: readonly AlertRule[] = ["bulk_lookup", "denials", "off_hours"];

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

/** What an alert is about, and how much of it to list. */
export interface AlertKind {
  rule: AlertRule;
  consumer: string;
  /** Track the distinct subjects (bulk lookups) rather than only count exchanges. */
  distinct: boolean;
  /** Exchanges listed per alert. */
  limit: number;
}

/** One alert being assembled: every exchange counted, the first `limit` listed. */
export class AlertBuilder {
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

/** Stable for the same rule, consumer and first exchange, so a reviewer can refer to it across calls. */
function alertId(rule: AlertRule, consumer: string, first: ExchangeFact): string {
  return createHash("sha256")
    .update(`${rule}\n${consumer}\n${first.index}\n${first.exchangeId}`)
    .digest("hex")
    .slice(0, 16);
}
