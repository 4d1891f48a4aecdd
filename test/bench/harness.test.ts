import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { summariseHeapProfile } from "../../bench/heap-summary.js";
import type { BenchReport } from "../../bench/run.js";

/**
 * Runs `xbus bench --quick` for real with a tiny duration, so the harness
 * cannot rot: every system starts, the load generator reaches each, the JSON
 * has every field. It asserts nothing about speed: that is for people to read.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "xbus-bench-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `xbus bench --quick` with tiny durations and `args`; its stdout and the report it wrote. */
async function quickBench(name: string, args: string[]): Promise<{ stdout: string; report: BenchReport }> {
  const out = join(dir, `${name}.json`);
  const tiny = ["--duration", "0.5", "--warmup", "0.3", "--concurrency", "4"];
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["bin/xbus.js", "bench", "--quick", ...tiny, ...args, "--out", out],
    { cwd: ROOT, timeout: 230_000, maxBuffer: 4 * 1024 * 1024 },
  );
  return { stdout, report: JSON.parse(readFileSync(out, "utf8")) as BenchReport };
}

describe("npm run bench", () => {
  it("measures every system with --quick and writes the report", { timeout: 240_000 }, async () => {
    const { stdout, report } = await quickBench("quick", [
      "--micro",
      "0.05",
      "--heap-profile",
      join(dir, "heap"),
    ]);
    expect(stdout).toContain("| record | in flight | system");
    expect(stdout).toMatch(/RSS at rest, before any load: .*bus-in-process \d+ MB \(provider \d+ MB\)/);

    expect(report.version).toBe(1);
    expect(report.options).toMatchObject({
      quick: true,
      concurrency: [4],
      record_bytes: [512],
      rounds: 1,
      layout: "split",
    });
    // Split layout: the broker (the bare chain's front) and the provider's side are processes of their own.
    expect(stdout).toContain("| broker RSS MB | provider RSS MB |");
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.rss_source).toMatch(/peak RSS/);
    // The bus traced at its default sampling and exported to the bench's collector stand-in.
    expect(report.trace_exports.requests).toBeGreaterThan(0);
    expect(report.trace_exports.bytes).toBeGreaterThan(0);
    expect(report.points.map((p) => p.system).sort()).toEqual([
      "bare",
      "bus-bridged",
      "bus-cluster",
      "bus-in-process",
    ]);
    const bare = report.points.find((p) => p.system === "bare");
    for (const p of report.points) {
      expect(p).toEqual({
        system: expect.any(String),
        concurrency: 4,
        record_bytes: 512,
        requests: expect.any(Number),
        duration_s: 0.5,
        requests_per_s: expect.any(Number),
        p50_ms: p.requests > 0 ? expect.any(Number) : null,
        p99_ms: p.requests > 0 ? expect.any(Number) : null,
        errors: 0,
        error_reasons: {},
        peak_rss_mb: expect.any(Number),
        provider_peak_rss_mb: expect.any(Number),
        provider_cpu_ms_per_request: expect.any(Number),
        // nats-server's CPU from /proc, in 10 ms steps: a tiny run may read 0.
        nats_cpu_ms_per_request: expect.any(Number),
        coarse: expect.any(Boolean),
        // Ratios to the bare chain are numbers unless a window saw no completed call (a stalled machine).
        ratio_requests_per_s: bare?.requests ? expect.any(Number) : null,
        ratio_p99: p.requests && bare?.requests ? expect.any(Number) : null,
        cpu_ms_per_request: expect.any(Number),
        ratio_cpu: expect.any(Number),
      });
      // Zero errors also says each system answered with a whole record: the load generator makes one
      // call before the clock starts, and counts a failed or short reply as an error.
      expect(p.peak_rss_mb).toBeGreaterThan(0);
      // What the peak grew from: the same process up and idle, before the load began (in MB, as the peak).
      const rest = report.rss_at_rest_mb[p.system];
      expect(rest).toBeGreaterThan(0);
      expect(rest).toBeLessThan(p.peak_rss_mb * 2);
      const providerRest = report.provider_rss_at_rest_mb[p.system];
      expect(providerRest).toBeGreaterThan(0);
      expect(providerRest).toBeLessThan((p.provider_peak_rss_mb ?? 0) * 2);
      // Every call costs its system some CPU time: zero would mean the usage never reached the report.
      // Both processes worked for every call, so the provider's part is some of the total, not all.
      expect(p.provider_cpu_ms_per_request).toBeGreaterThan(0);
      expect(p.cpu_ms_per_request).toBeGreaterThan(p.provider_cpu_ms_per_request ?? 0);
    }
    expect(report.targets.map((t) => t.target)).toContain("zero errors");
    expect(report.targets.find((t) => t.target === "zero errors")?.met).toBe(true);
    // --heap-profile: each system's allocations, and the command that reads them per call.
    for (const s of ["bare", "bus-bridged", "bus-in-process"]) {
      const file = join(dir, "heap", `${s}.heapprofile`);
      const line = stdout.split("\n").find((l) => l.includes(`heap-summary.ts ${file} `));
      const calls = Number(line?.trim().split(" ").at(-1));
      expect(calls).toBeGreaterThan(0);
      expect(summariseHeapProfile(file, calls)).toMatch(/MB allocated, [\d.]+ KB per call over \d+ calls/);
    }
    expect(report.micro.length).toBeGreaterThan(0);
    for (const m of report.micro) expect(m.ops).toBeGreaterThan(0);
  });

  it("runs every part of a system in one process with --layout one-process", {
    timeout: 240_000,
  }, async () => {
    const { stdout, report } = await quickBench("one-process", [
      "--layout",
      "one-process",
      "--systems",
      "bare,bus-in-process",
      "--micro",
      "0",
    ]);
    expect(report.options.layout).toBe("one-process");
    expect(stdout).toContain("| peak RSS MB | CPU ms/req |");
    expect(report.provider_rss_at_rest_mb).toEqual({});
    expect(report.points.map((p) => p.system).sort()).toEqual(["bare", "bus-in-process"]);
    for (const p of report.points) {
      expect(p.errors).toBe(0);
      expect(p.provider_peak_rss_mb).toBeNull();
      expect(p.provider_cpu_ms_per_request).toBeNull();
      expect(p.cpu_ms_per_request).toBeGreaterThan(0);
    }
    expect(report.rss_source).toMatch(/broker, connector and adapter together/);
  });
});
