import { describe, expect, it } from "vitest";
import { XbusError } from "../../core/index.js";
import { parseRate } from "../../policies/index.js";
import { createRateLimiter } from "./rate-limiter.js";

const rates = [{ grant: "g", rate: parseRate("2/minute") }];

function rejection(f: () => void): XbusError {
  try {
    f();
  } catch (err) {
    if (err instanceof XbusError) return err;
    throw err;
  }
  throw new Error("expected RATE_LIMITED");
}

describe("rate limiter", () => {
  it("allows the rate, then refuses with the time until a request is free again", () => {
    let t = 1_000_000;
    const rl = createRateLimiter({ now: () => t });
    rl.take("a", rates);
    rl.take("a", rates);
    const err = rejection(() => rl.take("a", rates));
    expect(err.reason).toBe("RATE_LIMITED");
    expect(err.retryAfterMs).toBe(30_000);
    expect(err.toGrpc().metadata.get("xbus-retry-after-ms")).toEqual(["30000"]);
    t += 30_000;
    rl.take("a", rates);
  });

  it("keeps one bucket per consumer", () => {
    const rl = createRateLimiter({ now: () => 0 });
    rl.take("a", rates);
    rl.take("a", rates);
    rl.take("b", rates);
    expect(() => rl.take("a", rates)).toThrow(XbusError);
  });

  it("spends nothing when one of several rates is spent", () => {
    const rl = createRateLimiter({ now: () => 0 });
    const tight = { grant: "tight", rate: parseRate("1/hour") };
    rl.take("a", [tight]);
    expect(() => rl.take("a", [...rates, tight])).toThrow(XbusError);
    rl.take("a", rates);
    rl.take("a", rates);
  });

  it("keeps memory bounded", () => {
    const rl = createRateLimiter({ now: () => 0, maxBuckets: 100 });
    for (let i = 0; i < 1000; i++) rl.take(`consumer-${i}`, rates);
    expect(rl.size).toBe(100);
  });
});
