import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_MAX_STREAM_BYTES } from "../broker/log/jetstream-log.js";
import { runFaults, soakLogBytes } from "./run.js";
import { formatSoak, trendOf } from "./soak.js";
import { TINY_PHASES } from "./tiny-phases.js";

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "xbus-soak-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the soak's trend", () => {
  const minutes = (n: number, v: (i: number) => number) =>
    Array.from({ length: n }, (_, i) => ({ t: i * 10_000, v: v(i) }));

  it("finds a steady growth and its rate per hour", () => {
    // +1 MiB a minute, with ±0.5 MiB of alternating noise: 60 MiB per hour.
    const tr = trendOf(minutes(120, (i) => 200 * MiB + (i / 6) * MiB + (i % 2 ? 0.5 : -0.5) * MiB));
    expect(tr.slope_per_hour / MiB).toBeGreaterThan(55);
    expect(tr.slope_per_hour / MiB).toBeLessThan(65);
    expect(tr.slope_per_hour - tr.ci95_per_hour).toBeGreaterThan(0);
  });

  it("calls a flat, noisy series flat: its interval holds zero", () => {
    const tr = trendOf(minutes(120, (i) => 200 * MiB + ((i * 7919) % 13) * 0.3 * MiB));
    expect(Math.abs(tr.slope_per_hour)).toBeLessThan(tr.ci95_per_hour + 1 * MiB);
  });

  it("sizes the soak's log for its length, never below the default", () => {
    expect(soakLogBytes(60_000)).toBe(DEFAULT_MAX_STREAM_BYTES);
    expect(soakLogBytes(3_600_000)).toBe(3600 * MiB);
  });
});

/*
 * A soak smoke: the real single-node stack, the load in its own process, 20 s of sampling every 2 s.
 * What is checked is that every process is sampled and judged and the JSON says so; whether 20 s of
 * a loaded machine "grows" is not asserted (a verdict needs the real length: npm run faults -- --soak 30m).
 */
describe("npm run faults -- --soak", () => {
  it("samples every process of the target and the load, and writes a verdict per metric", async () => {
    const json = join(dir, "soak.json");
    const report = await runFaults({
      ...TINY_PHASES,
      json,
      // A log larger than the default, as a 30-minute soak has: the stack must create the stream that size.
      soak: { durationMs: 20_000, everyMs: 2_000, logBytes: 2 * DEFAULT_MAX_STREAM_BYTES, log: () => {} },
    });
    const soak = (JSON.parse(readFileSync(json, "utf8")) as typeof report).soak;
    expect(soak).toBeDefined();
    if (!soak) return;
    expect(soak.requests.answered).toBeGreaterThan(0);
    expect(soak.requests.succeeded).toBeGreaterThan(0);
    const names = soak.processes.map((p) => p.name);
    expect(names).toContain("load");
    expect(names).toContain("nats-server");
    expect(names.filter((n) => n.startsWith("connector ")).length).toBe(8);
    for (const p of soak.processes) {
      expect(p.samples.length, p.name).toBeGreaterThanOrEqual(8);
      expect(Object.keys(p.trends).sort()).toEqual([
        "heap_bytes",
        "nats_connections",
        "open_fds",
        "rss_bytes",
      ]);
      expect(p.samples.every((s) => s.rss_bytes > 0 && s.open_fds > 0)).toBe(true);
    }
    // The harness's own process carries where its memory is (V8, external, anonymous RSS).
    const own = soak.processes.find((p) => p.heap_source === "v8");
    expect(own?.samples[0]?.detail?.heap_total).toBeGreaterThan(0);
    // Each connector holds its one NATS connection throughout.
    for (const p of soak.processes.filter((x) => x.name.startsWith("connector ")))
      expect(p.samples.at(-1)?.nats_connections, p.name).toBe(1);
    expect(soak.passed).toBe(soak.problems.length === 0);
    expect(formatSoak(soak)).toMatch(soak.passed ? /^Soak passed\.$/m : /^Soak failed: .+\.$/m);
  }, 180_000);
});
