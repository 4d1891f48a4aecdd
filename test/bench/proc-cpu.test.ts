import { describe, expect, it } from "vitest";
import { procCpuMeter } from "../../bench/targets/child.js";

/** Spends `ms` of this process's CPU time (not wall time: the machine may be busy with others). */
const burn = (ms: number) => {
  const start = process.cpuUsage();
  let x = 0;
  for (;;) {
    for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + i);
    const used = process.cpuUsage(start);
    if (used.user + used.system >= ms * 1000) return x;
  }
};

describe("procCpuMeter (nats-server's CPU time in the bench)", () => {
  it("reads another process's CPU time from /proc since the last reset", () => {
    // This process stands in for a nats-server: /proc/PID/stat is read the same way for any pid.
    const meter = procCpuMeter(() => [process.pid, undefined]);
    burn(300);
    const first = meter.read(true).cpuMicros;
    // 300 ms burnt, read in 10 ms ticks.
    expect(first).toBeGreaterThanOrEqual(280_000);
    expect(first % 10_000).toBe(0);
    // After the reset, only what came since counts.
    expect(meter.read(false).cpuMicros).toBeLessThan(first);
  });

  it("counts nothing for a process that does not exist", () => {
    const meter = procCpuMeter(() => [2 ** 22 + 7]);
    expect(meter.read(true).cpuMicros).toBe(0);
  });
});
