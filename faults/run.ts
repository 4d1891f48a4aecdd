import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "../bench/run.js";
import { DEFAULT_MAX_STREAM_BYTES } from "../broker/log/jetstream-log.js";
import { auditReceipts, type LogTrust, logRecords, watchTreeHeads } from "./audit.js";
import { CLUSTER_CAPABILITIES, startCluster } from "./cluster.js";
import { LoadDriver } from "./load-driver.js";
import { countRow, failureTimeline, type RowResult } from "./measure.js";
import type { LoadEvent, LoadRequest } from "./protocol.js";
import { ELECTION_MAX_MS, ROWS, type Row, type RowContext } from "./rows.js";
import { SINGLE_NODE_CAPABILITIES, startSingleNode } from "./single-node.js";
import { runSoak, type SoakOptions, type SoakReport } from "./soak.js";
import type { Capability, Target, TargetOptions } from "./target.js";

export const DEFAULT_JSON = join(REPO_ROOT, "faults", "results", "latest.json");

/** The topologies the harness can run on: how each starts, and all it can have done to it. */
export const TARGETS = {
  "single-node": { start: startSingleNode, capabilities: SINGLE_NODE_CAPABILITIES },
  cluster: { start: startCluster, capabilities: CLUSTER_CAPABILITIES },
} satisfies Record<
  string,
  { start(o: TargetOptions): Promise<Target>; capabilities: ReadonlySet<Capability> }
>;
export type TargetKind = keyof typeof TARGETS;

export interface FaultsOptions {
  /** The topology; default single-node. */
  target?: TargetKind;
  /** Row ids to run, in the harness's order; when absent, every row the target can do. */
  rows?: string[];
  /** Phase lengths: before the fault, during it, and after the bus serves again. */
  baselineMs: number;
  faultMs: number;
  settleMs: number;
  /** How long a row waits for the bus to serve again after the repair before it fails. */
  recoverMaxMs: number;
  concurrency: number;
  deadlineMs: number;
  json: string;
  /** Instead of the rows: a soak of this length (its log sized by soakLogBytes unless `logBytes` says). */
  soak?: Omit<SoakOptions, "target" | "load"> & { logBytes?: number };
  /** Keep the run's folder (certificates, stores, component logs) and say where. */
  keep?: boolean;
  log(line: string): void;
}

export interface FaultsReport {
  kind: "faults";
  /** The topology the rows ran on. */
  target: TargetKind;
  started: string;
  machine: { cpus: number; node: string };
  settings: Pick<
    FaultsOptions,
    "baselineMs" | "faultMs" | "settleMs" | "recoverMaxMs" | "concurrency" | "deadlineMs"
  >;
  rows: RowResult[];
  soak?: SoakReport;
  /** Every row passed (and the soak found no leak). */
  passed: boolean;
}

export const QUICK: Pick<
  FaultsOptions,
  "baselineMs" | "faultMs" | "settleMs" | "recoverMaxMs" | "concurrency"
> = {
  baselineMs: 2000,
  faultMs: 3000,
  settleMs: 1000,
  recoverMaxMs: 30_000,
  concurrency: 8,
};

export const FULL: typeof QUICK = {
  baselineMs: 5000,
  faultMs: 10_000,
  settleMs: 3000,
  recoverMaxMs: 60_000,
  concurrency: 16,
};

/**
 * Selects rows by id, in the harness's order; an unknown id is an error naming the known ones. Without ids:
 * every row a target with `capabilities` can do.
 */
export function selectRows(ids: readonly string[] | undefined, capabilities: ReadonlySet<Capability>): Row[] {
  if (!ids) return ROWS.filter((r) => r.needs.every((c) => capabilities.has(c)));
  const known = new Set(ROWS.map((r) => r.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0)
    throw new Error(`unknown row(s) ${unknown.join(", ")}; rows are ${[...known].join(", ")}`);
  return ROWS.filter((r) => ids.includes(r.id));
}

const trustOf = (t: Target): LogTrust => ({
  review: t.review,
  logId: t.logId,
  logPublicKey: t.logPublicKey,
  brokerPublicKeys: t.brokerPublicKeys,
});

/** One target and its load, for the rows that share it (or one fresh row). */
interface Session {
  target: Target;
  load: LoadDriver;
  heads: ReturnType<typeof watchTreeHeads>;
  tag: string;
  results: RowResult[];
  /** Each row's receipts, re-audited when the target closes if any was missing (late, or lost?). */
  receipts: Map<string, Uint8Array[]>;
}

/**
 * The log stream's bound for a soak of this length: 1 MiB per second of it, never below the default 1 GiB.
 * A 40-minute soak on a quiet 2-core machine filled 1 GiB in 32 minutes (~0.56 MiB/s at ~720 answers/s,
 * denials logged too), so this leaves 1.5–1.8× room; a faster machine may need more (`soak.logBytes`). The soak
 * measures a steady state; a log filling up is the log-full row's fault, not a soak's.
 */
export function soakLogBytes(durationMs: number): number {
  return Math.max(DEFAULT_MAX_STREAM_BYTES, Math.ceil(durationMs / 1000) * 1024 * 1024);
}

export async function runFaults(o: FaultsOptions): Promise<FaultsReport> {
  const kind = o.target ?? "single-node";
  const { start, capabilities } = TARGETS[kind];
  const rows = selectRows(o.rows, capabilities);
  const runDir = mkdtempSync(join(tmpdir(), "xbus-faults-"));
  const logFile = join(runDir, "components.log");
  const logFd = openSync(logFile, "a");
  const report: FaultsReport = {
    kind: "faults",
    target: kind,
    started: new Date().toISOString(),
    machine: { cpus: (await import("node:os")).availableParallelism(), node: process.version },
    settings: {
      baselineMs: o.baselineMs,
      faultMs: o.faultMs,
      settleMs: o.settleMs,
      recoverMaxMs: o.recoverMaxMs,
      concurrency: o.concurrency,
      deadlineMs: o.deadlineMs,
    },
    rows: [],
    passed: false,
  };
  let n = 0;
  const open = async (fresh?: Row["fresh"]): Promise<Session> => {
    const dir = join(runDir, `target-${n++}`);
    mkdirSync(dir);
    const size = fresh ? `, its log of ${fresh.logMaxBytes} bytes` : "";
    o.log(`faults: starting the target (${dir}${size})`);
    const target = await start({ dir, logFile, ...(fresh ?? {}) });
    const tag = `faults-${randomBytes(4).toString("hex")}`;
    try {
      const load = await LoadDriver.start(target, {
        concurrency: o.concurrency,
        deadlineMs: o.deadlineMs,
        tag,
        logFd,
      });
      return { target, load, heads: watchTreeHeads(trustOf(target)), tag, results: [], receipts: new Map() };
    } catch (err) {
      await target.close();
      throw err;
    }
  };
  const close = async (s: Session) => {
    await s.load.stop();
    await s.heads.stop();
    await answerless(s).catch((err: unknown) => o.log(`faults: log entries not read: ${err}`));
    for (const r of s.results) {
      if (r.receipts.missing === 0) continue;
      // Once every row ran: a receipt still missing now is lost, not late.
      // Given as long as a repaired bus has to serve again: a stalled indexer may need that to resume.
      const again = await auditReceipts(trustOf(s.target), s.receipts.get(r.id) ?? [], o.recoverMaxMs).catch(
        () => undefined,
      );
      if (!again) continue;
      r.notes.push(
        `${r.receipts.missing} receipts were not yet in a signed head 15 s after the row; re-audited at the end of ` +
          `the run against the head of size ${again.treeSize}: ${again.missing} of ${again.checked} missing` +
          (again.problems.length ? ` (${again.problems.slice(0, 2).join("; ")})` : ""),
      );
      if (again.missing === 0) {
        // Late, not lost: every one is in the log. The row is judged on what the log holds.
        r.receipts.late = r.receipts.missing;
        r.receipts.missing = 0;
        r.problems = r.problems.filter((p) => !p.endsWith("receipts are missing from the log"));
        if (r.problems.length === 0) r.status = "passed";
      }
    }
    await s.target.close();
  };
  try {
    if (o.soak) {
      // A log sized for the soak where the target can size it (the cluster's stays at its default).
      const s = await open(
        capabilities.has("sized-log")
          ? { logMaxBytes: o.soak.logBytes ?? soakLogBytes(o.soak.durationMs) }
          : undefined,
      );
      try {
        report.soak = await runSoak({ ...o.soak, target: s.target, load: s.load });
      } finally {
        await close(s);
      }
      report.passed = report.soak.passed;
    } else {
      let shared: Session | undefined;
      try {
        for (const row of rows) {
          const cannot = row.needs.filter((c) => !capabilities.has(c));
          if (cannot.length > 0) {
            report.rows.push(
              skipped(row, { name: kind } as Target, `the target cannot ${cannot.join(", ")}`),
            );
            continue;
          }
          if (row.fresh) {
            let s: Session;
            try {
              s = await open(row.fresh);
            } catch (err) {
              const r = skipped(
                row,
                shared?.target ?? ({ name: "fresh" } as Target),
                `the target did not start: ${err}`,
              );
              report.rows.push({ ...r, status: "failed" });
              continue;
            }
            try {
              s.results.push(await runRow(row, s, o));
            } finally {
              await close(s);
            }
            report.rows.push(...s.results);
            continue;
          }
          shared ??= await open();
          const missing = row.needs.filter((c) => !shared?.target.capabilities.has(c));
          if (missing.length > 0) {
            report.rows.push(skipped(row, shared.target, `the target cannot ${missing.join(", ")}`));
            continue;
          }
          const r = await runRow(row, shared, o);
          shared.results.push(r);
          report.rows.push(r);
        }
      } finally {
        if (shared) await close(shared);
      }
      // Rows from a shared target are finished once its load stopped (entries without an answer).
      report.rows.sort((a, b) => rows.findIndex((r) => r.id === a.id) - rows.findIndex((r) => r.id === b.id));
      report.passed = report.rows.length > 0 && report.rows.every((r) => r.status !== "failed");
    }
  } finally {
    closeSync(logFd);
    if (o.keep) o.log(`faults: the run's folder is kept: ${runDir}`);
    else rmSync(runDir, { recursive: true, force: true });
  }
  mkdirSync(dirname(o.json), { recursive: true });
  writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

function skipped(row: Row, target: Target, why: string): RowResult {
  return {
    id: row.id,
    title: row.title,
    proves: row.proves,
    target: target.name,
    status: "skipped",
    problems: [why],
    notes: [],
    times: { start: 0, fault: 0, heal: 0, end: 0 },
    requests: { sent: 0, succeeded: 0, denied: 0, failed: {} },
    receipts: { checked: 0, missing: 0, problems: [] },
    log_entries_without_answer: { count: 0, why: "" },
    serves_again_ms: null,
    p99_ms: { baseline: null, fault: null },
    tree_heads: { seen: 0, not_extending: [] },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runRow(row: Row, s: Session, o: FaultsOptions): Promise<RowResult> {
  const { target, load } = s;
  o.log(`faults: row ${row.id}: ${row.title}`);
  const notes: string[] = [];
  const problems: string[] = [];
  const consumerName = (r: LoadRequest) => target.consumers[r.consumer]?.name ?? "?";
  const withRequest = (e: LoadEvent) => ({ e, r: load.requests[e.request] as LoadRequest });
  const times = { start: Date.now(), fault: 0, heal: 0, end: 0 };
  let faultMs = o.faultMs;
  const ctx: RowContext = {
    target,
    faultMs: o.faultMs,
    stretchFault(ms) {
      if (o.faultMs < ELECTION_MAX_MS || ms <= faultMs) return;
      faultMs = ms;
      notes.push(
        `the fault lasted ${ms} ms, not ${o.faultMs}: it takes the log's leader, so it must outlast an election`,
      );
    },
    baselineP99() {
      const l = load.events
        .filter((e) => e.doneAt >= times.start && e.outcome === "OK")
        .map((e) => e.doneAt - e.sentAt)
        .sort((a, b) => a - b);
      return l[Math.max(0, Math.ceil(l.length * 0.99) - 1)] ?? 0;
    },
    waitFor: (match, timeoutMs) => load.waitFor(match, times.start, timeoutMs),
    note: (text) => notes.push(text),
  };
  await sleep(o.baselineMs);
  await load.drain();
  times.fault = Date.now();
  let injectedAt = times.fault;
  try {
    await row.inject(ctx);
    injectedAt = Date.now();
    // A fault that waited for its own start (the log filling up) begins when it began.
    if (row.fresh) times.fault = injectedAt;
    await sleep(faultMs);
  } catch (err) {
    problems.push(`the fault was not injected: ${(err as Error).message}`);
  }
  times.heal = Date.now();
  try {
    await row.heal(ctx);
  } catch (err) {
    problems.push(`the repair failed: ${(err as Error).message}`);
  }
  const healedAt = Date.now();
  const served = await load.waitFor(
    (e, r) => r.expect === "allow" && e.outcome === "OK" && e.sentAt >= healedAt,
    healedAt,
    o.recoverMaxMs,
  );
  if (!served) problems.push(`no request succeeded within ${o.recoverMaxMs} ms of the repair`);
  await sleep(o.settleMs);
  await load.drain();
  times.end = Date.now();
  try {
    await row.restore?.(ctx);
  } catch (err) {
    problems.push(`the target was not restored after the row: ${(err as Error).message}`);
  }

  const events = load.events.filter((e) => e.doneAt >= times.start && e.doneAt <= times.end).map(withRequest);
  const expected = (e: LoadEvent, r: LoadRequest) => row.expected?.(e, r, consumerName(r)) === true;
  const bad = (e: LoadEvent, r: LoadRequest) =>
    r.expect === "allow" ? e.outcome !== "OK" && !expected(e, r) : e.outcome === "OK";
  const counted = countRow(events, times, bad, row.outage === true);
  const timeline = failureTimeline(events, injectedAt, bad);
  if (timeline) notes.push(`failed calls by the second they were sent after the fault: ${timeline}`);
  if (counted.serves_again_ms === null) problems.push("the bus did not serve again before the row ended");
  const phases = {
    injectedAt,
    healedAt: times.heal,
    before: events.filter(({ e }) => e.doneAt < times.fault),
    // Answered during the fault, or sent during it (a hung call is answered at its deadline, after the repair).
    fault: events.filter(
      ({ e }) =>
        (e.doneAt >= times.fault && e.doneAt <= times.heal) ||
        (e.sentAt >= times.fault && e.sentAt <= times.heal),
    ),
    after: events.filter(({ e }) => e.sentAt >= times.heal),
  };
  problems.push(...(row.check?.(phases, { consumerName, note: (text) => notes.push(text) }) ?? []));
  if (counted.requests.failed.RELEASED_DESPITE_DENY)
    problems.push(
      `${counted.requests.failed.RELEASED_DESPITE_DENY} denied requests were answered with a record`,
    );

  const okEvents = events.filter(({ e }) => e.outcome === "OK");
  const noReceipt = okEvents.filter(({ e }) => !e.receipt).length;
  const receipts = okEvents.flatMap(({ e }) => (e.receipt ? [e.receipt] : []));
  s.receipts.set(row.id, receipts);
  const audit = await auditReceipts(trustOf(target), receipts).catch((err: unknown) => ({
    checked: okEvents.length,
    missing: okEvents.length,
    problems: [`the audit could not run: ${(err as Error).message}`],
    treeSize: 0,
  }));
  const missing = audit.missing + noReceipt;
  if (missing > 0) problems.push(`${missing} receipts are missing from the log`);
  const heads = s.heads.between(times.start, times.end);
  if (heads.notExtending.length > 0)
    problems.push(`${heads.notExtending.length} tree heads did not extend the one before`);
  const result: RowResult = {
    id: row.id,
    title: row.title,
    proves: row.proves,
    target: target.name,
    status: problems.length === 0 ? "passed" : "failed",
    problems,
    notes,
    times,
    ...counted,
    receipts: {
      checked: audit.checked + noReceipt,
      missing,
      problems: [...(noReceipt ? [`${noReceipt} answers carried no receipt`] : []), ...audit.problems],
    },
    log_entries_without_answer: { count: 0, why: "" },
    tree_heads: { seen: heads.seen, not_extending: heads.notExtending },
  };
  o.log(
    `faults: row ${row.id}: ${result.status}; ${result.requests.sent} answered, ${result.requests.succeeded} ok, ` +
      `receipts ${audit.checked} checked ${missing} missing${problems.length ? `; ${problems.join("; ")}` : ""}`,
  );
  return result;
}

/**
 * Log entries without an answer: the log says the exchange released a record
 * (status OK), but the load never got that answer (it gave up at its deadline
 * or lost its connection after the broker logged and before the answer
 * arrived). The log records before it answers, so this is the safe direction
 * of a failure, and allowed; the reverse (an answer the log lacks) is what the
 * receipt audit counts. Read once the load has stopped, so every answer is in.
 */
async function answerless(s: Session): Promise<void> {
  const byRequest = new Map(s.load.events.map((e) => [e.requestId, e]));
  const records = await logRecords(trustOf(s.target));
  const undecodable = records.filter((x) => x.record === null).length;
  for (const result of s.results) {
    const inRow: string[] = [];
    for (const { record } of records) {
      if (record?.status !== "OK") continue;
      const id = String(record.request_id ?? "");
      if (!id.startsWith(`${s.tag}-`)) continue;
      const e = byRequest.get(id);
      const at = e ? e.doneAt : Number(record.time);
      if (at < result.times.start || at > result.times.end) continue;
      if (e?.outcome !== "OK") inRow.push(e ? e.outcome : "no answer at all");
    }
    const why = [...new Set(inRow)].join(", ");
    result.log_entries_without_answer = {
      count: inRow.length,
      why: inRow.length
        ? `logged, then the consumer saw ${why} (the log records before the answer, so an answer lost after it leaves an entry)`
        : "",
    };
    if (undecodable > 0) {
      result.problems.push(`${undecodable} log entries do not decode as exchange records (half-written)`);
      result.status = "failed";
    }
  }
}
