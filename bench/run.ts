import { fork } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { FetchRequestSchema } from "../proto/gen/xbus/v1/exchange_pb.js";
import { Child } from "./child-process.js";
import { loadMicroBenchmarks, type MicroResult, runMicro } from "./micro/registry.js";
import {
  HEAP_PROFILE_ENV,
  type Layout,
  type LoadReply,
  type LoadResult,
  type ProcessUsage,
  type SystemName,
  type TargetInfo,
  type TargetReply,
} from "./protocol.js";
import { subjectForSize } from "./record.js";
import {
  evaluateTargets,
  formatMicroTable,
  formatTable,
  type PointResult,
  type TargetCheck,
} from "./report.js";
import { type WitnessSamples, weightedPercentile } from "./witness-latency.js";

/**
 * `npm run bench`: the bare chain and the bus side by side, in one run. Each
 * system runs in a child process of its own (so its RSS is its own), the load
 * comes from another child, and the systems take turns point by point and
 * round by round, so drift of a shared machine falls on all of them alike.
 */
export interface BenchOptions {
  quick: boolean;
  /** Measured time per system, point and round. */
  durationMs: number;
  /** Unmeasured time before each measured window (JIT, connection warm-up). */
  warmupMs: number;
  rounds: number;
  /** In-flight levels for the small (512 B) record. */
  concurrency: number[];
  /** Add the 64 KB and 500 KB records at 64 in flight. */
  largeRecords: boolean;
  systems: SystemName[];
  /** How each system's parts are spread over processes (protocol.ts). */
  layout: Layout;
  /** 0 skips the micro-benchmarks. */
  microDurationMs: number;
  /** Where the JSON goes. */
  out: string;
  /** Write a CPU profile of each bus process here (`node --cpu-prof`). */
  profileDir: string | undefined;
  /** Write each system's allocation profile here (`<system>.heapprofile`, main thread). */
  heapProfileDir?: string;
  /** Extra Node/V8 flags for every system's process (not the load generator's). */
  nodeFlags?: string[];
  log: (line: string) => void;
}

/** The repository: `xbus bench` runs this module compiled, from dist/bench/, and the sources' bench/ alike. */
export const REPO_ROOT = repoRoot(import.meta.dirname);

function repoRoot(from: string): string {
  let dir = from;
  for (let i = 0; i < 4; i++, dir = dirname(dir))
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "bench"))) return dir;
  throw new Error(`the repository (package.json and bench/) not found above ${from}`);
}
export const DEFAULT_OUT = join(REPO_ROOT, "bench", "results", "latest.json");
export const SMALL_RECORD = 512;
export const LARGE_RECORDS = [64 * 1024, 500 * 1024];
export const LARGE_CONCURRENCY = 64;
const SERVICE = "dcrc.citizen-record";
const PURPOSE = "performance-test";
const READY_TIMEOUT_MS = 180_000;

export interface BenchReport {
  version: 1;
  started_at: string;
  finished_at: string;
  machine: {
    cpus: number;
    cpu_model: string;
    node: string;
    platform: string;
    loadavg_start: number[];
    loadavg_end: number[];
  };
  options: {
    quick: boolean;
    duration_ms: number;
    warmup_ms: number;
    rounds: number;
    concurrency: number[];
    record_bytes: number[];
    systems: SystemName[];
    layout: Layout;
    node_flags: string[];
  };
  rss_source: string;
  /** Each system's process RSS once it was up, before any load: what the peaks under load grew from. */
  rss_at_rest_mb: Partial<Record<SystemName, number>>;
  /** The same for each system's provider process (split layout; empty in one-process). */
  provider_rss_at_rest_mb: Partial<Record<SystemName, number>>;
  /** OTLP/HTTP exports the bus sent to the bench's collector stand-in during the whole run. */
  trace_exports: { requests: number; bytes: number };
  /**
   * Per bus system, over the whole run (warm-ups included): time from an exchange (the broker received
   * it) to a checkpoint its two witnesses cosigned that covers it, weighted per entry (witness-latency.ts).
   */
  witnessing: Partial<Record<SystemName, WitnessingResult>>;
  points: PointResult[];
  targets: TargetCheck[];
  micro: MicroResult[];
}

export interface WitnessingResult {
  checkpoints: number;
  entries: number;
  p50_ms: number | null;
  p99_ms: number | null;
}

/** How long the bench waits after the last run for the checkpoints covering its last exchanges. */
const WITNESS_TAIL_MS = 3000;

interface Point {
  concurrency: number;
  recordBytes: number;
}

export function planPoints(o: Pick<BenchOptions, "concurrency" | "largeRecords">): Point[] {
  const points = o.concurrency.map((concurrency) => ({ concurrency, recordBytes: SMALL_RECORD }));
  if (o.largeRecords)
    for (const recordBytes of LARGE_RECORDS) points.push({ concurrency: LARGE_CONCURRENCY, recordBytes });
  return points;
}

/** The consumer's request as the bus gets it: everything the grant allows, of a record of `bytes`. */
function busRequest(bytes: number, consentId = ""): Uint8Array {
  return toBinary(
    FetchRequestSchema,
    create(FetchRequestSchema, {
      service: SERVICE,
      subjectId: subjectForSize(bytes),
      purpose: PURPOSE,
      consentId,
    }),
  );
}

/** The bare chain's request: the record size in four bytes, padded to the length of the bus's request. */
function bareRequest(bytes: number, length: number): Uint8Array {
  const b = Buffer.alloc(Math.max(4, length));
  b.writeUInt32BE(bytes, 0);
  return b;
}

function forkChild(
  name: string,
  script: string,
  args: string[],
  extraExecArgv: string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Child {
  const proc = fork(join(REPO_ROOT, "dist", "bench", script.replace(/\.ts$/, ".js")), args, {
    cwd: REPO_ROOT,
    env,
    execArgv: extraExecArgv,
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Child(name, proc);
}

function startSystem(
  system: SystemName,
  o: Pick<BenchOptions, "profileDir" | "heapProfileDir" | "nodeFlags" | "layout">,
  sizes: number[],
  traces: TraceSink,
): Child {
  const execArgv = [...profileFlags(o.profileDir, system), ...(o.nodeFlags ?? [])];
  const env = o.heapProfileDir
    ? { ...process.env, [HEAP_PROFILE_ENV]: join(o.heapProfileDir, `${system}.heapprofile`) }
    : process.env;
  // The bus traces as deployed: OTLP/HTTP to a collector (the sink below), default sampling.
  const busEnv = { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: traces.url };
  switch (system) {
    case "bare":
      return forkChild(system, "targets/bare-chain.ts", [o.layout], execArgv, env);
    case "bus-bridged":
      return forkChild(system, "targets/bus.ts", ["bridged", sizes.join(","), o.layout], execArgv, busEnv);
    case "bus-in-process":
      return forkChild(system, "targets/bus.ts", ["in-process", sizes.join(","), o.layout], execArgv, busEnv);
    case "bus-cluster":
      return forkChild(
        system,
        "targets/bus.ts",
        ["in-process", sizes.join(","), o.layout, "cluster"],
        execArgv,
        busEnv,
      );
  }
}

interface TraceSink {
  url: string;
  requests: number;
  bytes: number;
  close(): Promise<void>;
}

/**
 * A stand-in for an OpenTelemetry collector: accepts OTLP/HTTP exports and
 * drops them, counting what arrived. Without an endpoint the bus creates no
 * spans at all, and the bench would not measure tracing.
 */
async function startTraceSink(): Promise<TraceSink> {
  const sink = { url: "", requests: 0, bytes: 0, close: async () => {} };
  const server = createServer((req, res) => {
    req.on("data", (chunk: Buffer) => {
      sink.bytes += chunk.length;
    });
    req.on("end", () => {
      sink.requests++;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
  const { port } = server.address() as AddressInfo;
  sink.url = `http://127.0.0.1:${port}`;
  sink.close = () => new Promise<void>((r) => server.close(() => r()));
  return sink;
}

/** One folder per process. */
function profileFlags(profileDir: string | undefined, name: string): string[] {
  return profileDir ? ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, name)}`] : [];
}

interface Accumulated {
  completed: number;
  durationMs: number;
  latencies: Float64Array[];
  errors: Record<string, number>;
  peakRss: number;
  answered: number;
  /** All the system's processes. */
  cpuMicros: number;
  /** The provider's process (split layout): its peak RSS and CPU time; null in one-process. */
  provider: { peakRss: number; cpuMicros: number } | null;
  /** The system's nats-server processes together (not in cpuMicros); null when the system names none. */
  natsCpuMicros: number | null;
}

function percentile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

function summarise(system: SystemName, point: Point, a: Accumulated): PointResult {
  const all = new Float64Array(a.latencies.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const l of a.latencies) {
    all.set(l, at);
    at += l.length;
  }
  all.sort();
  const errors = Object.values(a.errors).reduce((n, x) => n + x, 0);
  const p50 = percentile(all, 0.5);
  return {
    system,
    concurrency: point.concurrency,
    record_bytes: point.recordBytes,
    requests: a.completed,
    duration_s: a.durationMs / 1000,
    requests_per_s: round((a.completed * 1000) / a.durationMs, 1),
    p50_ms: roundOrNull(p50, 2),
    p99_ms: roundOrNull(percentile(all, 0.99), 2),
    errors,
    error_reasons: a.errors,
    peak_rss_mb: round(a.peakRss / (1024 * 1024), 1),
    provider_peak_rss_mb: a.provider ? round(a.provider.peakRss / (1024 * 1024), 1) : null,
    cpu_ms_per_request: a.answered > 0 ? round(a.cpuMicros / 1000 / a.answered, 3) : null,
    provider_cpu_ms_per_request:
      a.provider && a.answered > 0 ? round(a.provider.cpuMicros / 1000 / a.answered, 3) : null,
    nats_cpu_ms_per_request:
      a.natsCpuMicros !== null && a.answered > 0 ? round(a.natsCpuMicros / 1000 / a.answered, 3) : null,
    coarse: p50 === null || p50 > a.durationMs / a.latencies.length / 3,
    ratio_requests_per_s: null,
    ratio_p99: null,
    ratio_cpu: null,
  };
}

/** Fills each point's ratios against the bare chain's result at the same point. */
export function addRatios(points: PointResult[]): void {
  for (const p of points) {
    const bare = points.find(
      (b) => b.system === "bare" && b.concurrency === p.concurrency && b.record_bytes === p.record_bytes,
    );
    if (!bare) continue;
    p.ratio_requests_per_s =
      bare.requests_per_s > 0 ? round(p.requests_per_s / bare.requests_per_s, 2) : null;
    p.ratio_p99 = p.p99_ms !== null && bare.p99_ms ? round(p.p99_ms / bare.p99_ms, 2) : null;
    p.ratio_cpu =
      p.cpu_ms_per_request !== null && bare.cpu_ms_per_request
        ? round(p.cpu_ms_per_request / bare.cpu_ms_per_request, 2)
        : null;
  }
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const started = new Date();
  const loadStart = loadavg();
  const points = planPoints(o);
  if (o.profileDir) mkdirSync(o.profileDir, { recursive: true });
  if (o.heapProfileDir) mkdirSync(o.heapProfileDir, { recursive: true });
  o.log(
    `xbus bench: ${o.systems.join(", ")}; ${points.length} point(s) × ${o.rounds} round(s) × ` +
      `${(o.warmupMs + o.durationMs) / 1000} s each`,
  );
  // `xbus bench` runs from dist/ (bin/xbus.js builds it when stale), so every measured process runs
  // plain JavaScript as a deployment would: under tsx each would also carry its loader thread and esbuild.
  const traces = await startTraceSink();
  const children = new Map<SystemName, Child>();
  const targets = new Map<SystemName, TargetInfo>();
  let load: Child | undefined;
  const results: PointResult[] = [];
  const answeredBy = new Map<SystemName, number>();
  const restRss: Partial<Record<SystemName, number>> = {};
  const providerRestRss: Partial<Record<SystemName, number>> = {};
  const witnessSamples = new Map<SystemName, WitnessSamples[]>();
  const keepWitness = (s: SystemName, r: TargetReply) => {
    if (r.type === "rss" && r.witness) witnessSamples.set(s, [...(witnessSamples.get(s) ?? []), r.witness]);
  };
  try {
    const sizes = [...new Set(points.map((p) => p.recordBytes))];
    for (const s of o.systems) children.set(s, startSystem(s, o, sizes, traces));
    load = forkChild("load generator", "load/generator.ts", [], profileFlags(o.profileDir, "load-generator"));
    // Started together; each generates its CA and certificates and its own nats-server.
    await Promise.all(
      [...children].map(async ([s, child]) => {
        const r = await child.next<TargetReply>(READY_TIMEOUT_MS);
        if (r.type !== "ready")
          throw new Error(`${s} did not start: ${r.type === "failed" ? r.message : r.type}`);
        targets.set(s, r.target);
        restRss[s] = round(r.restBytes / (1024 * 1024), 1);
        if (r.providerRestBytes !== undefined)
          providerRestRss[s] = round(r.providerRestBytes / (1024 * 1024), 1);
      }),
    );
    o.log("systems ready");
    for (const point of points) {
      // As many bytes as the bus's request, consent id included.
      const consentId = [...targets.values()].find((t) => t.consents)?.consents?.[point.recordBytes];
      const bareReq = bareRequest(point.recordBytes, busRequest(point.recordBytes, consentId).length);
      const acc = new Map<SystemName, Accumulated>(
        o.systems.map((s) => [
          s,
          {
            completed: 0,
            durationMs: 0,
            latencies: [],
            errors: {},
            peakRss: 0,
            answered: 0,
            cpuMicros: 0,
            provider: null,
            natsCpuMicros: null,
          },
        ]),
      );
      for (let round = 0; round < o.rounds; round++) {
        // Rotate who goes first, so no system always runs right after another's heavy run.
        const order = o.systems.map((_, i) => o.systems[(i + round) % o.systems.length] as SystemName);
        for (const s of order) {
          const child = children.get(s) as Child;
          const target = targets.get(s) as TargetInfo;
          keepWitness(s, await child.ask<TargetReply>({ type: "rss", reset: true }));
          const r = await load.ask<LoadReply>({
            type: "run",
            target,
            request:
              s === "bare" ? bareReq : busRequest(point.recordBytes, target.consents?.[point.recordBytes]),
            minReplyBytes: point.recordBytes,
            concurrency: point.concurrency,
            warmupMs: o.warmupMs,
            durationMs: o.durationMs,
          });
          if (r.type !== "result") throw new Error(`load generator failed: ${r.message}`);
          const usage = await child.ask<TargetReply>({ type: "rss", reset: false });
          keepWitness(s, usage);
          const a = acc.get(s) as Accumulated;
          if (usage.type !== "rss")
            throw new Error(`${s}: usage not read: ${usage.type === "failed" ? usage.message : usage.type}`);
          addRun(a, r, usage);
          o.log(
            `  ${s.padEnd(15)} c=${String(point.concurrency).padStart(3)} ${formatBytes(point.recordBytes).padStart(6)} ` +
              `round ${round + 1}: ${Math.round((r.completed * 1000) / r.durationMs)} req/s` +
              (Object.keys(r.errors).length > 0 ? `, errors ${JSON.stringify(r.errors)}` : ""),
          );
        }
      }
      for (const s of o.systems) {
        const a = acc.get(s) as Accumulated;
        results.push(summarise(s, point, a));
        answeredBy.set(s, (answeredBy.get(s) ?? 0) + a.answered);
      }
    }
    // The last exchanges' checkpoints are witnessed after the last run ended.
    if (witnessSamples.size > 0) {
      await new Promise((r) => setTimeout(r, WITNESS_TAIL_MS));
      for (const s of witnessSamples.keys())
        keepWitness(s, await (children.get(s) as Child).ask<TargetReply>({ type: "rss", reset: false }));
    }
  } finally {
    await Promise.allSettled([load?.stop(), ...[...children.values()].map((c) => c.stop())]);
    await traces.close();
  }
  addRatios(results);

  const micro: MicroResult[] = [];
  if (o.microDurationMs > 0) {
    for (const { source, benchmark } of await loadMicroBenchmarks()) {
      const r = await runMicro(source, benchmark, o.microDurationMs);
      micro.push(r);
      o.log(`  micro: ${r.name}: ${r.ops_per_s} ops/s`);
    }
  }

  const report: BenchReport = {
    version: 1,
    started_at: started.toISOString(),
    finished_at: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? "",
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      loadavg_start: loadStart.map((x) => round(x, 2)),
      loadavg_end: loadavg().map((x) => round(x, 2)),
    },
    options: {
      quick: o.quick,
      duration_ms: o.durationMs,
      warmup_ms: o.warmupMs,
      rounds: o.rounds,
      concurrency: o.concurrency,
      record_bytes: [...new Set(points.map((p) => p.recordBytes))],
      systems: o.systems,
      layout: o.layout,
      node_flags: o.nodeFlags ?? [],
    },
    rss_source:
      o.layout === "split"
        ? "peak RSS of the process that runs the federation's side, sampled every 50 ms during each measured run: " +
          "for the bus the broker (stack/dev-stack.ts, connectors elsewhere), for the bare chain its front; " +
          "provider_peak_rss_mb: the same for the provider agency's process (the bus's connector and adapter, " +
          "bench/targets/bus-provider.ts; the bare chain's responder and backend); nats-server and the load " +
          "generator are other processes and not counted. cpu_ms_per_request: the CPU time (all threads) of " +
          "both processes over each run ÷ the calls answered in it; provider_cpu_ms_per_request: the provider's part; " +
          "nats_cpu_ms_per_request: the system's nats-server processes (one; the cluster's three core nodes and its " +
          "leaf nodes), from /proc in 10 ms steps, not in cpu_ms_per_request"
        : "peak RSS of the process that runs the system, sampled every 50 ms during each measured run: for the bus " +
          "that process runs broker, connector and adapter together (stack/dev-stack.ts), for the bare chain its front, " +
          "responder and backend; nats-server and the load generator are other processes and not counted. " +
          "cpu_ms_per_request: that process's CPU time (all threads) over each run ÷ the calls it answered in it; " +
          "nats_cpu_ms_per_request: the system's nats-server processes, from /proc, not in cpu_ms_per_request",
    rss_at_rest_mb: restRss,
    provider_rss_at_rest_mb: providerRestRss,
    trace_exports: { requests: traces.requests, bytes: traces.bytes },
    points: results,
    witnessing: Object.fromEntries(
      [...witnessSamples].map(([s, samples]) => [s, summariseWitnessing(samples)]),
    ),
    targets: [...evaluateTargets(results), ...witnessTargets(witnessSamples)],
    micro,
  };
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, `${JSON.stringify(report, null, 2)}\n`);
  o.log("");
  o.log(formatTable(report.points));
  o.log(
    `  RSS at rest, before any load: ${Object.entries(report.rss_at_rest_mb)
      .map(([s, mb]) => {
        const provider = report.provider_rss_at_rest_mb[s as SystemName];
        return `${s} ${Math.round(mb)} MB${provider === undefined ? "" : ` (provider ${Math.round(provider)} MB)`}`;
      })
      .join(", ")}`,
  );
  o.log("");
  for (const t of report.targets)
    o.log(`  ${t.met === null ? "?" : t.met ? "✓" : "✗"} ${t.target}: ${t.measured}`);
  if (micro.length > 0) {
    o.log("");
    o.log(formatMicroTable(micro));
  }
  o.log("");
  o.log(`written ${o.out}`);
  if (o.heapProfileDir) {
    o.log("allocation profiles (per call: the calls each system answered, warm-up included):");
    for (const s of o.systems)
      o.log(
        `  node --import tsx bench/heap-summary.ts ${join(o.heapProfileDir, `${s}.heapprofile`)} ${answeredBy.get(s) ?? 0}`,
      );
  }
  return report;
}

function summariseWitnessing(samples: readonly WitnessSamples[]): WitnessingResult {
  const latencies = Float64Array.from(samples.flatMap((x) => [...x.latenciesMs]));
  const weights = Float64Array.from(samples.flatMap((x) => [...x.weights]));
  return {
    checkpoints: samples.reduce((n, x) => n + x.checkpoints, 0),
    entries: samples.reduce((n, x) => n + x.entries, 0),
    p50_ms: roundOrNull(weightedPercentile(latencies, weights, 0.5), 0),
    p99_ms: roundOrNull(weightedPercentile(latencies, weights, 0.99), 0),
  };
}

/** The issue's goal: p99 from an exchange to a witnessed checkpoint covering it ≤ 2 s (Rekor budgets ≥ 20 s). */
function witnessTargets(samples: ReadonlyMap<SystemName, WitnessSamples[]>): TargetCheck[] {
  return [...samples].map(([s, x]) => {
    const r = summariseWitnessing(x);
    return {
      target: `${s} exchange → witnessed checkpoint p99 ≤ 2 s (two witnesses)`,
      measured:
        r.p99_ms === null
          ? "not measured"
          : `p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms over ${r.entries} entries in ${r.checkpoints} checkpoints`,
      met: r.p99_ms === null ? null : r.p99_ms <= 2000,
    };
  });
}

function addRun(
  a: Accumulated,
  r: LoadResult,
  usage: ProcessUsage & { provider?: ProcessUsage; nats?: { cpuMicros: number } },
): void {
  a.completed += r.completed;
  a.durationMs += r.durationMs;
  a.latencies.push(r.latenciesMs);
  for (const [k, n] of Object.entries(r.errors)) a.errors[k] = (a.errors[k] ?? 0) + n;
  a.peakRss = Math.max(a.peakRss, usage.peakBytes);
  a.answered += r.answered;
  a.cpuMicros += usage.cpuMicros + (usage.provider?.cpuMicros ?? 0);
  if (usage.provider) {
    a.provider ??= { peakRss: 0, cpuMicros: 0 };
    a.provider.peakRss = Math.max(a.provider.peakRss, usage.provider.peakBytes);
    a.provider.cpuMicros += usage.provider.cpuMicros;
  }
  if (usage.nats) a.natsCpuMicros = (a.natsCpuMicros ?? 0) + usage.nats.cpuMicros;
}

export function formatBytes(n: number): string {
  return n >= 1024 ? `${Math.round(n / 1024)} KB` : `${n} B`;
}

function roundOrNull(x: number | null, digits: number): number | null {
  return x === null ? null : round(x, digits);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
