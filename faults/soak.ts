import { readdirSync, readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { LoadDriver } from "./load-driver.js";
import type { Target } from "./target.js";

export interface SoakOptions {
  durationMs: number;
  /** Between samples; 10 s by default. */
  everyMs?: number;
  target: Target;
  load: LoadDriver;
  log(line: string): void;
}

const METRICS = ["rss_bytes", "heap_bytes", "open_fds", "nats_connections"] as const;
type Metric = (typeof METRICS)[number];

export interface Trend {
  /** Least-squares growth per hour over the samples after the warm-up, with its 95% confidence half-width. */
  slope_per_hour: number;
  ci95_per_hour: number;
  first: number;
  last: number;
  mean: number;
  /** The lower end of the interval is above the metric's allowance: it grew, and not by chance. */
  leak: boolean;
}

export interface SoakProcess {
  name: string;
  /** What `heap_bytes` is for this process: V8's used heap (this process) or anonymous RSS from /proc (others). */
  heap_source: "v8" | "RssAnon";
  samples: {
    t: number;
    rss_bytes: number;
    heap_bytes: number;
    open_fds: number;
    nats_connections: number;
    /** This process only: where its memory is, to tell V8's own growth from native (SQLite, TLS, malloc). */
    detail?: { rss_anon: number; heap_total: number; external: number; array_buffers: number };
  }[];
  trends: Record<Metric, Trend>;
}

export interface SoakReport {
  duration_ms: number;
  every_ms: number;
  requests: { answered: number; succeeded: number; failed: number; failed_by_reason: Record<string, number> };
  processes: SoakProcess[];
  /** No metric grew and no allowed call failed. */
  passed: boolean;
  /** Why it did not pass, one line each. */
  problems: string[];
}

/** Two-sided 95% Student t for df degrees of freedom (df ≥ 30: the normal's 1.96 with a small-sample margin). */
function t95(df: number): number {
  const table = [12.71, 4.3, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.2, 2.18, 2.16, 2.14, 2.13];
  return table[df - 1] ?? (df < 30 ? 2.1 : 2.04);
}

/** A least-squares line through (hours, value) and its slope's 95% interval. */
export function trendOf(points: readonly { t: number; v: number }[]): Omit<Trend, "leak"> {
  const n = points.length;
  const mean = points.reduce((s, p) => s + p.v, 0) / Math.max(1, n);
  const base = { first: points[0]?.v ?? 0, last: points.at(-1)?.v ?? 0, mean };
  if (n < 3) return { slope_per_hour: 0, ci95_per_hour: Number.POSITIVE_INFINITY, ...base };
  const hours = points.map((p) => p.t / 3_600_000);
  const mt = hours.reduce((s, h) => s + h, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += ((hours[i] as number) - mt) ** 2;
    sxy += ((hours[i] as number) - mt) * ((points[i] as { v: number }).v - mean);
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  let sse = 0;
  for (let i = 0; i < n; i++) {
    const fit = mean + slope * ((hours[i] as number) - mt);
    sse += ((points[i] as { v: number }).v - fit) ** 2;
  }
  const se = sxx === 0 ? Number.POSITIVE_INFINITY : Math.sqrt(sse / (n - 2) / sxx);
  return { slope_per_hour: slope, ci95_per_hour: t95(n - 2) * se, ...base };
}

/**
 * How much growth per hour a metric may show before it is a leak: memory 5% of its mean or 4 MiB
 * (whichever is more), descriptors 10, connections none at all. `mean` is the metric's own mean, except
 * for anonymous RSS, a part of the process's RSS, which is held to the same allowance as its whole (the
 * process's mean RSS): judged on its own mean, the same megabytes of growth were a leak in the part and
 * flat in the whole.
 */
function allowance(m: Metric, mean: number): number {
  if (m === "rss_bytes" || m === "heap_bytes") return Math.max(0.05 * mean, 4 * 1024 * 1024);
  if (m === "open_fds") return 10;
  return 0;
}

/**
 * V8's collector, made callable: this process's heap is read after a full collection. Read between
 * major collections, heapUsed climbs with garbage V8 has not collected yet (on a machine with memory to
 * spare it waits long), and that climb reads as a leak: the first 10-minute soak "found" one of ~300 B
 * per call in the broker's process that a collection before each sample shows is not there.
 */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

function procStatus(pid: number): { rss: number; anon: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon") };
}

/**
 * The soak: the steady load against the target for `durationMs`, and every
 * 10 s, for every process of the target and the load's own, its RSS, heap,
 * open file descriptors (/proc/PID/fd) and NATS connections (nats-server's
 * /connz, by connection name). The first fifth of the samples is warm-up; on
 * the rest, each metric's least-squares slope and 95% interval decide whether
 * it grew.
 */
export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const everyMs = o.everyMs ?? 10_000;
  const started = Date.now();
  const series = new Map<string, SoakProcess>();
  const gc = collector();
  const sample = async () => {
    const t = Date.now() - started;
    const names = await o.target.natsConnectionNames().catch(() => [] as string[]);
    const procs = [
      ...o.target.processes(),
      ...(o.load.pid ? [{ name: "load", pid: o.load.pid, natsNames: [] }] : []),
    ];
    for (const p of procs) {
      let status: { rss: number; anon: number };
      let fds: number;
      try {
        status = procStatus(p.pid);
        fds = readdirSync(`/proc/${p.pid}/fd`).length;
      } catch {
        continue;
      }
      const own = p.pid === process.pid;
      if (own) gc();
      let s = series.get(p.name);
      if (!s) {
        s = {
          name: p.name,
          heap_source: own ? "v8" : "RssAnon",
          samples: [],
          trends: {} as SoakProcess["trends"],
        };
        series.set(p.name, s);
      }
      const mem = own ? process.memoryUsage() : undefined;
      s.samples.push({
        t,
        rss_bytes: status.rss,
        heap_bytes: mem ? mem.heapUsed : status.anon,
        ...(mem && {
          detail: {
            rss_anon: status.anon,
            heap_total: mem.heapTotal,
            external: mem.external,
            array_buffers: mem.arrayBuffers,
          },
        }),
        open_fds: fds,
        nats_connections: names.filter((n) => (p.natsNames ?? []).some((prefix) => n.startsWith(prefix)))
          .length,
      });
    }
  };
  // The load's events are counted and dropped as they come: kept, they would grow this process's heap and
  // read as the broker's leak.
  const counts = { answered: 0, succeeded: 0, failed: 0, failed_by_reason: {} as Record<string, number> };
  const expectDeny = (i: number) => o.load.requests[i]?.expect === "deny";
  const tally = () => {
    for (const e of o.load.events.splice(0)) {
      counts.answered++;
      if (expectDeny(e.request)) continue;
      if (e.outcome === "OK") counts.succeeded++;
      else {
        counts.failed++;
        counts.failed_by_reason[e.outcome] = (counts.failed_by_reason[e.outcome] ?? 0) + 1;
      }
    }
  };
  await sample();
  while (Date.now() - started < o.durationMs) {
    tally();
    await new Promise((r) =>
      setTimeout(r, Math.min(everyMs, Math.max(0, o.durationMs - (Date.now() - started)))),
    );
    await sample();
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    o.log(`faults: soak ${minutes} min of ${(o.durationMs / 60_000).toFixed(1)}`);
  }
  await o.load.drain();
  tally();
  const problems: string[] = [];
  if (counts.failed > 0)
    problems.push(
      `${counts.failed} allowed calls failed (${Object.entries(counts.failed_by_reason)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}): a soak is a steady load, with nothing broken`,
    );
  for (const s of series.values()) {
    const kept = s.samples.slice(Math.floor(s.samples.length / 5));
    const rssMean = kept.reduce((a, x) => a + x.rss_bytes, 0) / Math.max(1, kept.length);
    for (const m of METRICS) {
      const tr = trendOf(kept.map((x) => ({ t: x.t, v: x[m] })));
      const base = m === "heap_bytes" && s.heap_source === "RssAnon" ? rssMean : tr.mean;
      const leak =
        m === "nats_connections"
          ? tr.last > tr.first
          : Number.isFinite(tr.ci95_per_hour) && tr.slope_per_hour - tr.ci95_per_hour > allowance(m, base);
      if (leak) problems.push(`${s.name}: ${m} grows`);
      s.trends[m] = { ...tr, leak };
    }
  }
  return {
    duration_ms: Date.now() - started,
    every_ms: everyMs,
    requests: counts,
    processes: [...series.values()],
    passed: problems.length === 0,
    problems,
  };
}

/** The soak's verdict as Markdown: per process and metric, first → last, slope per hour ± 95%, leak or not. */
export function formatSoak(r: SoakReport): string {
  const fmt = (m: Metric, v: number) =>
    m === "rss_bytes" || m === "heap_bytes"
      ? `${(v / 1024 / 1024).toFixed(1)} MiB`
      : v.toFixed(m === "open_fds" ? 0 : 1);
  const lines = [
    `Soak: ${(r.duration_ms / 60_000).toFixed(1)} min, a sample every ${r.every_ms / 1000} s; ` +
      `${r.requests.answered} answered, ${r.requests.succeeded} ok, ${r.requests.failed} failed` +
      (r.requests.failed > 0
        ? ` (${Object.entries(r.requests.failed_by_reason)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")})`
        : "") +
      " (denials not counted)",
    "",
    "| process | metric | first → last | slope per hour (± 95%) | verdict |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const p of r.processes)
    for (const m of METRICS) {
      const t = p.trends[m];
      if (!t) continue;
      const name =
        m === "heap_bytes" ? `heap (${p.heap_source})` : m.replace(/_bytes$/, "").replace(/_/g, " ");
      lines.push(
        `| ${p.name} | ${name} | ${fmt(m, t.first)} → ${fmt(m, t.last)} | ${fmt(m, t.slope_per_hour)} ± ${fmt(m, t.ci95_per_hour)} | ${t.leak ? "**grows**" : "flat"} |`,
      );
    }
  lines.push("", r.passed ? "Soak passed." : `Soak failed: ${r.problems.join("; ")}.`);
  return lines.join("\n");
}
