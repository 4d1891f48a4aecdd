import { resolve } from "node:path";
import { Command } from "commander";
import { formatTable } from "../../faults/report.js";
import { ROWS } from "../../faults/rows.js";
import { DEFAULT_JSON, type FaultsOptions, FULL, QUICK, runFaults, TARGETS } from "../../faults/run.js";
import { formatSoak } from "../../faults/soak.js";
import { act, UsageError, type XbusCommand } from "./command.js";

interface FaultsFlags {
  target?: string;
  quick?: true;
  rows?: string;
  json?: string;
  soak?: string;
  baseline?: string;
  fault?: string;
  settle?: string;
  concurrency?: string;
  keep?: true;
}

function faultsFlags(): Command {
  return new Command("faults")
    .summary(
      "inject faults into a running bus under steady load and audit every receipt (--quick: a smoke run)",
    )
    .description(
      "Starts the bus, drives a steady closed-loop load from another process, injects one fault per row, and " +
        "measures: requests by outcome, receipts missing from the log (each proved against a signed tree head; " +
        "must be 0), log entries without an answer, time until the bus serves again, p99, and whether every " +
        `tree head extended the one before. Rows: ${ROWS.map((r) => r.id).join(", ")}; each runs on the ` +
        "targets that can do its fault, and without --rows every row the target can do runs.",
    )
    .option(
      "--target <name>",
      "single-node (default: one nats-server, the broker and log in this process) or cluster (3 core " +
        "nats-servers with the log at R3, a leaf node per agency, 2 brokers, the log service and a standby)",
    )
    .option("--quick", "short phases (2 s + 3 s + 1 s) and 8 in flight: a smoke run under 3 minutes")
    .option("--rows <list>", "only these rows, comma-separated (default: every row the target can do)")
    .option("--json <file>", "where the JSON goes (default faults/results/latest.json)")
    .option(
      "--soak <duration>",
      "no rows: a steady load for this long (e.g. 30m, 600s, 1h), sampling every process's memory, descriptors and NATS connections every 10 s; fails on growth",
    )
    .option("--baseline <seconds>", "load before each fault (default 5; quick 2)")
    .option("--fault <seconds>", "how long each fault lasts (default 10; quick 3)")
    .option("--settle <seconds>", "load after the bus serves again (default 3; quick 1)")
    .option("--concurrency <n>", "requests in flight (default 16; quick 8)")
    .option("--keep", "keep the run's folder (certificates, stores, the components' log) and print where");
}

function seconds(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback * 1000;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 3600)
    throw new UsageError(`--${name} must be 0 to 3600 seconds, got ${JSON.stringify(v)}`);
  return n * 1000;
}

/** `30m`, `600s`, `1h`, `45` (seconds) as milliseconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(v.trim());
  if (!m) throw new UsageError(`--soak takes a duration like 30m, 600s or 1h, got ${JSON.stringify(v)}`);
  const n = Number(m[1]) * ({ s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"] ?? 1000);
  if (n < 10_000 || n > 48 * 3_600_000) throw new UsageError("--soak must be 10 s to 48 h");
  return n;
}

export function faultsOptions(f: FaultsFlags, log: (line: string) => void): FaultsOptions {
  const base = f.quick ? QUICK : FULL;
  const target = f.target ?? "single-node";
  if (!Object.hasOwn(TARGETS, target))
    throw new UsageError(
      `--target: unknown target ${JSON.stringify(target)} (targets: ${Object.keys(TARGETS).join(", ")})`,
    );
  const concurrency = f.concurrency === undefined ? base.concurrency : Number(f.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024)
    throw new UsageError(
      `--concurrency must be a whole number from 1 to 1024, got ${JSON.stringify(f.concurrency)}`,
    );
  const rows = f.rows
    ?.split(",")
    .map((r) => r.trim())
    .filter(Boolean);
  const known = new Set(ROWS.map((r) => r.id));
  for (const r of rows ?? [])
    if (!known.has(r))
      throw new UsageError(`--rows: unknown row ${JSON.stringify(r)} (rows: ${[...known].join(", ")})`);
  if (f.soak !== undefined && rows)
    throw new UsageError("--soak runs no rows: give --soak or --rows, not both");
  return {
    target: target as keyof typeof TARGETS,
    ...(rows ? { rows } : {}),
    baselineMs: seconds("baseline", f.baseline, base.baselineMs / 1000),
    faultMs: seconds("fault", f.fault, base.faultMs / 1000),
    settleMs: seconds("settle", f.settle, base.settleMs / 1000),
    recoverMaxMs: base.recoverMaxMs,
    concurrency,
    deadlineMs: 3000,
    json: f.json ? resolve(f.json) : DEFAULT_JSON,
    ...(f.soak !== undefined ? { soak: { durationMs: parseDuration(f.soak), log } } : {}),
    ...(f.keep ? { keep: true } : {}),
    log,
  };
}

export const faultsCommand: XbusCommand = {
  name: "faults",
  create: (run) =>
    act<FaultsFlags>(run, faultsFlags(), async (flags) => {
      const options = faultsOptions(flags, (line) => run.io.err(`${line}\n`));
      const report = await runFaults(options);
      if (report.soak) run.io.out(`${formatSoak(report.soak)}\n`);
      else run.io.out(`${formatTable(report.rows)}\n`);
      run.io.err(`faults: ${report.passed ? "passed" : "FAILED"}; JSON in ${options.json}\n`);
      return report.passed ? 0 : 1;
    }),
};
