import { describe, expect, it } from "vitest";
import type { ExchangeFact } from "../indexer/log-index.js";
import type { AlertBuilder, AlertJson } from "./alert-builder.js";
import { BurstDetector } from "./burst-detector.js";

const MIN = 60_000;
const T0 = Date.UTC(2025, 6, 9);

let next = 0;
function fact(time: number, subjectRef = `s${next}`): ExchangeFact {
  const index = next++;
  return {
    index,
    exchangeId: `x${index}`,
    time,
    consumer: "c",
    service: "svc",
    subjectRef,
    decision: "deny",
  };
}

/** A detector of `threshold` within `windowMs`, fed `facts` and finished: the alerts it made. */
function run(facts: ExchangeFact[], threshold: number, windowMs: number, distinct = false, limit = 100) {
  const out: AlertJson[] = [];
  const summarize = (b: AlertBuilder) => `${b.count}/${b.subjects?.size ?? "-"}`;
  const d = new BurstDetector(
    { rule: distinct ? "bulk_lookup" : "denials", consumer: "c", distinct, limit, summarize },
    threshold,
    windowMs,
    out,
  );
  for (const f of facts) d.add(f);
  d.finish();
  return out;
}

describe("a burst detector", () => {
  it("fires when the window holds the threshold, not one fewer", () => {
    const three = [fact(T0), fact(T0 + MIN), fact(T0 + 2 * MIN)];
    expect(run(three, 3, 10 * MIN)).toHaveLength(1);
    expect(run(three.slice(0, 2), 3, 10 * MIN)).toEqual([]);
  });

  it("holds in its window only what is less than windowMs older than the newest", () => {
    // Exactly windowMs apart: the first has left the window when the third arrives.
    expect(run([fact(T0), fact(T0 + 5 * MIN), fact(T0 + 10 * MIN)], 3, 10 * MIN)).toEqual([]);
    expect(run([fact(T0), fact(T0 + 5 * MIN), fact(T0 + 10 * MIN - 1)], 3, 10 * MIN)).toHaveLength(1);
  });

  it("extends one alert over overlapping windows, each exchange in it once, and lists the first `limit`", () => {
    const burst = Array.from({ length: 8 }, (_, i) => fact(T0 + i * MIN));
    const [alert, ...more] = run(burst, 3, 5 * MIN, false, 4);
    expect(more).toEqual([]);
    expect(alert).toMatchObject({
      count: 8,
      truncated: true,
      first_at: T0,
      last_at: T0 + 7 * MIN,
      summary: "8/-",
    });
    expect(alert?.exchanges.map((e) => e.index)).toEqual(burst.slice(0, 4).map((f) => f.index));
  });

  it("starts another alert after a quiet gap longer than the window", () => {
    const first = [fact(T0), fact(T0 + MIN), fact(T0 + 2 * MIN)];
    const second = [fact(T0 + 60 * MIN), fact(T0 + 61 * MIN), fact(T0 + 62 * MIN)];
    const alerts = run([...first, ...second], 3, 10 * MIN);
    expect(alerts.map((a) => [a.first_at, a.count])).toEqual([
      [T0, 3],
      [T0 + 60 * MIN, 3],
    ]);
    expect(alerts[0]?.id).not.toBe(alerts[1]?.id);
  });

  it("counts distinct subjects when asked: repeats of one subject do not reach the threshold", () => {
    const same = Array.from({ length: 10 }, (_, i) => fact(T0 + i, "one"));
    expect(run(same, 3, 10 * MIN, true)).toEqual([]);
    const three = [fact(T0, "a"), fact(T0 + 1, "a"), fact(T0 + 2, "b"), fact(T0 + 3, "c")];
    expect(run(three, 3, 10 * MIN, true)[0]).toMatchObject({ count: 4, summary: "4/3" });
  });

  it("forgets a subject once its last exchange leaves the window", () => {
    const facts = [fact(T0, "a"), fact(T0 + 9 * MIN, "b"), fact(T0 + 11 * MIN, "c")];
    expect(run(facts, 3, 10 * MIN, true)).toEqual([]);
  });

  it("keeps its answer across the compaction of a long window", () => {
    // More than the 1024 entries after which the detector drops those that left its window.
    const facts = Array.from({ length: 3000 }, (_, i) => fact(T0 + i * MIN));
    const [alert, ...more] = run(facts, 2, 2 * MIN);
    expect(more).toEqual([]);
    expect(alert).toMatchObject({ count: 3000, first_at: T0, last_at: T0 + 2999 * MIN });
  });
});
