import type { LoadEvent, LoadRequest } from "./protocol.js";

/** One row's figures, as the JSON carries them. */
export interface RowResult {
  id: string;
  title: string;
  proves: string;
  target: string;
  /** passed: every check held; failed: see problems; skipped: the target cannot do it (see problems). */
  status: "passed" | "failed" | "skipped";
  problems: string[];
  notes: string[];
  /** Epoch ms of the row's phases: start, fault injected, repaired, end. */
  times: { start: number; fault: number; heal: number; end: number };
  requests: {
    /** Calls answered in the row (including the failures and denials). */
    sent: number;
    /** Allowed requests answered with a record. */
    succeeded: number;
    /** Denied requests denied by policy, as they should be. */
    denied: number;
    /** Everything else, by reason (`code` when the answer carried no reason). */
    failed: Record<string, number>;
  };
  /** Receipts the load received in the row, each proved against a signed tree head (missing must be 0). */
  receipts: {
    checked: number;
    missing: number;
    problems: string[];
    /** Receipts not yet in a signed head 15 s after the row, all found in the log at the end of the run. */
    late?: number;
  };
  /** Log entries that say a record was released whose answer the consumer never got (see `why`). */
  log_entries_without_answer: { count: number; why: string };
  /**
   * From the injection (or, for an outage the bus cannot ride out, from the repair) to the last failed
   * request that should have succeeded; 0 when none failed; null when the bus did not serve again.
   */
  serves_again_ms: number | null;
  p99_ms: { baseline: number | null; fault: number | null };
  /** Signed tree heads seen in the row, and every one that did not extend the one before (must be none). */
  tree_heads: { seen: number; not_extending: string[] };
}

/** Every field of a row in the JSON, for the tests that check its shape. */
export const ROW_FIELDS: readonly (keyof RowResult)[] = [
  "id",
  "title",
  "proves",
  "target",
  "status",
  "problems",
  "notes",
  "times",
  "requests",
  "receipts",
  "log_entries_without_answer",
  "serves_again_ms",
  "p99_ms",
  "tree_heads",
];

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? null;
}

/** The agency a request asks (the first part of its service name). */
export const agencyOf = (r: LoadRequest) => r.service.split(".")[0] ?? "";

const reasonKey = (e: LoadEvent) => {
  const [code, reason] = e.outcome.split(":");
  return reason && reason !== "-" ? reason : `code ${code}`;
};

/** Counts and latencies of a row's events; `bad` marks the failures held against "serves again". */
export function countRow(
  events: readonly { e: LoadEvent; r: LoadRequest }[],
  t: RowResult["times"],
  bad: (e: LoadEvent, r: LoadRequest) => boolean,
  fromRepair: boolean,
): Pick<RowResult, "requests" | "serves_again_ms" | "p99_ms"> {
  const failed: Record<string, number> = {};
  let succeeded = 0;
  let denied = 0;
  for (const { e, r } of events) {
    if (r.expect === "allow" && e.outcome === "OK") succeeded++;
    else if (r.expect === "deny" && reasonKey(e) === "POLICY_DENIED") denied++;
    else {
      const key = r.expect === "deny" && e.outcome === "OK" ? "RELEASED_DESPITE_DENY" : reasonKey(e);
      failed[key] = (failed[key] ?? 0) + 1;
    }
  }
  const latencies = (from: number, to: number) =>
    events
      .filter(({ e, r }) => r.expect === "allow" && e.outcome === "OK" && e.doneAt >= from && e.doneAt < to)
      .map(({ e }) => e.doneAt - e.sentAt);
  const origin = fromRepair ? t.heal : t.fault;
  const lastBad = events
    .filter(({ e, r }) => e.doneAt >= t.fault && bad(e, r))
    .reduce((m, { e }) => Math.max(m, e.doneAt), Number.NEGATIVE_INFINITY);
  let servesAgain: number | null = 0;
  if (Number.isFinite(lastBad)) {
    const servedAfter = events.some(
      ({ e, r }) => r.expect === "allow" && e.outcome === "OK" && e.doneAt > lastBad,
    );
    servesAgain = servedAfter ? Math.max(0, lastBad - origin) : null;
  }
  return {
    requests: { sent: events.length, succeeded, denied, failed },
    serves_again_ms: servesAgain,
    p99_ms: {
      baseline: percentile(latencies(t.start, t.fault), 99),
      fault: percentile(latencies(t.fault, t.heal), 99),
    },
  };
}

/**
 * When the failures held against "serves again" happened: by the second (after `origin`) in which each
 * request was sent, its reason and agency, e.g. "+0 s: code 4 ×3 (dcrc); +9 s: LOG_UNAVAILABLE ×2 (moe)".
 * By the sending second, so a call that waited out its deadline shows where it was sent, not where it gave up.
 */
export function failureTimeline(
  events: readonly { e: LoadEvent; r: LoadRequest }[],
  origin: number,
  bad: (e: LoadEvent, r: LoadRequest) => boolean,
): string {
  const bySecond = new Map<number, Map<string, number>>();
  for (const { e, r } of events) {
    if (e.sentAt < origin || !bad(e, r)) continue;
    const second = Math.floor((e.sentAt - origin) / 1000);
    const key = `${reasonKey(e)} (${agencyOf(r) || "?"})`;
    const m = bySecond.get(second) ?? new Map<string, number>();
    m.set(key, (m.get(key) ?? 0) + 1);
    bySecond.set(second, m);
  }
  return [...bySecond]
    .sort((a, b) => a[0] - b[0])
    .map(
      ([second, m]) =>
        `+${second} s: ${[...m]
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k} ×${n}`)
          .join(", ")}`,
    )
    .join("; ");
}
