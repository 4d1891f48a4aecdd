import { describe, expect, it } from "vitest";
import type { LogIndexReader, Witnessing } from "../broker/index.js";
import { watchWitnessLatency, weightedPercentile } from "./witness-latency.js";

// The bench's exchange → witnessed checkpoint figures: samples weighted by the entries they stand for.

describe("weightedPercentile", () => {
  it("weighs each sample by its entries", () => {
    const lat = Float64Array.from([100, 900, 2500]);
    expect(weightedPercentile(lat, Float64Array.from([98, 1, 1]), 0.5)).toBe(100);
    expect(weightedPercentile(lat, Float64Array.from([98, 1, 1]), 0.99)).toBe(900);
    expect(weightedPercentile(lat, Float64Array.from([1, 1, 98]), 0.5)).toBe(2500);
    expect(weightedPercentile(new Float64Array(), new Float64Array(), 0.5)).toBeNull();
  });
});

describe("watchWitnessLatency", () => {
  it("samples the leaves a newly witnessed checkpoint covers, by their records' times", () => {
    let latest: { size: number; note: string } | undefined;
    const w = { latest: () => latest } as Witnessing;
    const now = Date.now();
    const index = {
      entries: (i: number) => [{ index: i, leaf: Buffer.alloc(0), record: { time: BigInt(now - 1000 - i) } }],
    } as unknown as LogIndexReader;
    const watch = watchWitnessLatency(index, w, { pollMs: 3_600_000, perCheckpoint: 4 });
    try {
      expect(watch.take()).toMatchObject({ checkpoints: 0, entries: 0 });
      latest = { size: 8, note: "" };
      const s = watch.take();
      expect([s.checkpoints, s.entries, [...s.weights]]).toEqual([1, 8, [2, 2, 2, 2]]);
      // Leaves 0, 2, 4, 6: each a millisecond older than the next, a second or more before now.
      expect(s.latenciesMs.every((l) => l >= 1000)).toBe(true);
      expect((s.latenciesMs[3] ?? 0) - (s.latenciesMs[0] ?? 0)).toBe(6);
      expect(watch.take().checkpoints).toBe(0);
    } finally {
      watch.stop();
    }
  });
});
