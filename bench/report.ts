import type { MicroResult } from "./micro/registry.js";
import type { SystemName } from "./protocol.js";

/** One system at one point (in-flight level × record size), all rounds together. */
export interface PointResult {
  system: SystemName;
  concurrency: number;
  record_bytes: number;
  /** Successful calls completed inside the measured windows. */
  requests: number;
  duration_s: number;
  requests_per_s: number;
  /** null when no call completed in the measured window. */
  p50_ms: number | null;
  p99_ms: number | null;
  /** Failed calls, warm-up included. */
  errors: number;
  error_reasons: Record<string, number>;
  /** The system's main process: the bus's broker (with connector and adapter in one-process), the bare chain's front. */
  peak_rss_mb: number;
  /** The provider agency's process in the split layout (connector and adapter; responder and backend); else null. */
  provider_peak_rss_mb: number | null;
  /**
   * CPU time of the system's processes (all their threads) per call answered, warm-up included: what one
   * exchange costs the machine, steadier than requests/s on a shared machine (nats-server and the load
   * generator are not counted).
   */
  cpu_ms_per_request: number | null;
  /** The provider's process's part of cpu_ms_per_request (split layout); else null. */
  provider_cpu_ms_per_request: number | null;
  /** CPU time of the system's nats-server processes per call (not in cpu_ms_per_request); null if not read. */
  nats_cpu_ms_per_request: number | null;
  /** cpu_ms_per_request ÷ the bare chain's. */
  ratio_cpu: number | null;
  /**
   * True when p50 latency is over a third of the measured time: the window held only a few rounds of
   * calls, so requests/s is coarse. Rerun with a longer --duration for that point.
   */
  coarse: boolean;
  /** requests_per_s ÷ the bare chain's at the same point in the same run; 1 for the bare chain itself. */
  ratio_requests_per_s: number | null;
  /** p99_ms ÷ the bare chain's. */
  ratio_p99: number | null;
}

export interface TargetCheck {
  target: string;
  measured: string;
  /** null when the run did not include the points the target needs. */
  met: boolean | null;
}

const SMALL = 512;

/** The issue's targets, checked against one run's points. */
export function evaluateTargets(points: readonly PointResult[]): TargetCheck[] {
  const at = (system: SystemName, concurrency?: number) =>
    points.filter(
      (p) =>
        p.system === system &&
        p.record_bytes === SMALL &&
        (concurrency === undefined || p.concurrency === concurrency),
    );
  const minRatio = (ps: PointResult[]) =>
    ps.length === 0 ? null : Math.min(...ps.map((p) => p.ratio_requests_per_s ?? Number.NaN));
  const checks: TargetCheck[] = [];
  const ratioCheck = (system: SystemName, floor: number) => {
    const ps = at(system);
    const r = minRatio(ps);
    checks.push({
      target: `${system} ≥ ${floor}× bare requests/s (512 B, every concurrency)`,
      measured:
        r === null
          ? "not measured"
          : ps
              .map(
                (p) =>
                  `${p.ratio_requests_per_s === null ? "no bare run" : `${p.ratio_requests_per_s}×`} at ${p.concurrency}`,
              )
              .join(", "),
      met: r === null || Number.isNaN(r) ? null : r >= floor,
    });
  };
  ratioCheck("bus-bridged", 0.8);
  ratioCheck("bus-in-process", 1.5);
  for (const system of ["bus-bridged", "bus-in-process"] as const) {
    const p = at(system, 64)[0];
    checks.push({
      target: `${system} p99 ≤ 1.5× bare p99 at 64 in flight (512 B)`,
      measured: p?.ratio_p99 == null ? "not measured" : `${p.ratio_p99}× (${p.p99_ms} ms)`,
      met: p?.ratio_p99 == null ? null : p.ratio_p99 <= 1.5,
    });
  }
  const errors = points.reduce((n, p) => n + p.errors, 0);
  checks.push({ target: "zero errors", measured: `${errors}`, met: errors === 0 });
  for (const system of ["bus-bridged", "bus-in-process"] as const) {
    const p = at(system, 256)[0];
    checks.push({
      target: `${system} broker peak RSS < 200 MB at 256 in flight`,
      measured: !p
        ? "not measured"
        : p.provider_peak_rss_mb === null
          ? `${p.peak_rss_mb} MB (broker, connector and adapter in one process)`
          : `${p.peak_rss_mb} MB (the provider's process: ${p.provider_peak_rss_mb} MB)`,
      met: p ? p.peak_rss_mb < 200 : null,
    });
  }
  return checks;
}

function table(header: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (rightAligned[i] ? `${"-".repeat(w + 1)}:` : `:${"-".repeat(w + 1)}`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

const size = (n: number) => (n >= 1024 ? `${Math.round(n / 1024)} KB` : `${n} B`);
const ratio = (x: number | null) => (x === null ? "–" : `${x.toFixed(2)}×`);

/**
 * The points as a Markdown table, ready to paste into the README. In the split layout the RSS columns are the
 * broker's (the bare chain's front's) process and the provider's, and CPU is both processes' with the provider's part.
 */
export function formatTable(points: readonly PointResult[]): string {
  const split = points.some((p) => p.provider_peak_rss_mb !== null);
  const mb = (x: number | null) => x?.toFixed(0) ?? "–";
  const ms = (x: number | null) => x?.toFixed(3) ?? "–";
  type Column = [header: string, cell: (p: PointResult) => string, right: boolean];
  const providerRss: Column = ["provider RSS MB", (p) => mb(p.provider_peak_rss_mb), true];
  const providerCpu: Column = ["of it provider", (p) => ms(p.provider_cpu_ms_per_request), true];
  const natsCpu: Column = ["NATS CPU ms/req", (p) => ms(p.nats_cpu_ms_per_request), true];
  const columns: Column[] = [
    ["record", (p) => size(p.record_bytes), false],
    ["in flight", (p) => String(p.concurrency), true],
    ["system", (p) => p.system, false],
    ["req/s", (p) => `${p.coarse ? "*" : ""}${p.requests_per_s.toFixed(0)}`, true],
    ["× bare", (p) => ratio(p.ratio_requests_per_s), true],
    ["p50 ms", (p) => p.p50_ms?.toFixed(1) ?? "–", true],
    ["p99 ms", (p) => p.p99_ms?.toFixed(1) ?? "–", true],
    ["p99 × bare", (p) => ratio(p.ratio_p99), true],
    ["errors", (p) => String(p.errors), true],
    [split ? "broker RSS MB" : "peak RSS MB", (p) => mb(p.peak_rss_mb), true],
    ...(split ? [providerRss] : []),
    ["CPU ms/req", (p) => ms(p.cpu_ms_per_request), true],
    ...(split ? [providerCpu] : []),
    ["CPU × bare", (p) => ratio(p.ratio_cpu), true],
    ...(points.some((p) => p.nats_cpu_ms_per_request !== null) ? [natsCpu] : []),
  ];
  return (
    table(
      columns.map((c) => c[0]),
      points.map((p) => columns.map((c) => c[1](p))),
      columns.map((c) => c[2]),
    ) +
    (points.some((p) => p.coarse)
      ? "\n\n* coarse: p50 latency is over a third of the measured time; rerun with a longer --duration"
      : "")
  );
}

export function formatMicroTable(micro: readonly MicroResult[]): string {
  return table(
    ["micro-benchmark", "ops/s", "µs/op"],
    micro.map((m) => [m.name, m.ops_per_s.toFixed(0), m.mean_us.toFixed(2)]),
    [false, true, true],
  );
}
