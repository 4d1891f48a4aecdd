import { describe, expect, it } from "vitest";
import { evaluateTargets, formatTable, type PointResult } from "../../bench/report.js";
import { addRatios } from "../../bench/run.js";

function point(over: Partial<PointResult> & Pick<PointResult, "system" | "concurrency">): PointResult {
  return {
    record_bytes: 512,
    requests: 1000,
    duration_s: 1,
    requests_per_s: 1000,
    p50_ms: 10,
    p99_ms: 20,
    errors: 0,
    error_reasons: {},
    peak_rss_mb: 150,
    provider_peak_rss_mb: 120,
    cpu_ms_per_request: 0.5,
    provider_cpu_ms_per_request: 0.2,
    nats_cpu_ms_per_request: null,
    ratio_cpu: null,
    coarse: false,
    ratio_requests_per_s: null,
    ratio_p99: null,
    ...over,
  };
}

const find = (checks: ReturnType<typeof evaluateTargets>, start: string) =>
  checks.find((c) => c.target.startsWith(start));

describe("bench report", () => {
  it("checks the targets against the bare chain of the same run, the RSS one against the broker's process", () => {
    const points = [
      point({ system: "bare", concurrency: 256, requests_per_s: 2000, peak_rss_mb: 130 }),
      point({ system: "bus-bridged", concurrency: 256, requests_per_s: 1700, peak_rss_mb: 210 }),
      point({ system: "bus-in-process", concurrency: 256, requests_per_s: 3100, peak_rss_mb: 190 }),
    ];
    addRatios(points);
    const checks = evaluateTargets(points);
    expect(find(checks, "bus-bridged ≥ 0.8×")).toMatchObject({ measured: "0.85× at 256", met: true });
    expect(find(checks, "bus-in-process ≥ 1.5×")).toMatchObject({ measured: "1.55× at 256", met: true });
    expect(find(checks, "bus-bridged broker peak RSS")).toMatchObject({
      measured: "210 MB (the provider's process: 120 MB)",
      met: false,
    });
    expect(find(checks, "bus-in-process broker peak RSS")?.met).toBe(true);
  });

  it("says a ratio was not measured when the run had no bare chain, instead of printing null", () => {
    const checks = evaluateTargets([point({ system: "bus-in-process", concurrency: 64 })]);
    expect(find(checks, "bus-in-process ≥ 1.5×")).toMatchObject({ measured: "no bare run at 64", met: null });
  });

  it("names the one process of the one-process layout in the RSS check and table", () => {
    const p = point({ system: "bus-in-process", concurrency: 256, provider_peak_rss_mb: null });
    p.provider_cpu_ms_per_request = null;
    expect(find(evaluateTargets([p]), "bus-in-process broker peak RSS")?.measured).toBe(
      "150 MB (broker, connector and adapter in one process)",
    );
    expect(formatTable([p])).toContain("| peak RSS MB | CPU ms/req | CPU × bare |");
    expect(formatTable([point({ system: "bare", concurrency: 1 })])).toContain(
      "| broker RSS MB | provider RSS MB | CPU ms/req | of it provider | CPU × bare |",
    );
  });

  it("adds the nats-server CPU column only when a point measured it", () => {
    const read = point({ system: "bus-cluster", concurrency: 64, nats_cpu_ms_per_request: 0.125 });
    const table = formatTable([read, point({ system: "bare", concurrency: 64 })]);
    expect(table).toContain("| CPU × bare | NATS CPU ms/req |");
    expect(table).toMatch(/\| bus-cluster \|.*\| +0\.125 \|$/m);
    expect(table).toMatch(/\| bare +\|.*\| +– \|$/m);
    expect(formatTable([point({ system: "bare", concurrency: 64 })])).not.toContain("NATS CPU");
  });
});
