import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockOf, createSharedRateLimiter, type RateLimiter } from "../../broker/index.js";
import { silentLogger, XbusError } from "../../core/index.js";
import { parseRate } from "../../policies/index.js";
import { NatsServer } from "../../stack/index.js";

/*
 * The federation's rate counters (broker/exchange/shared-rate-limiter.ts) on a real nats-server,
 * each limiter on its own connection as each broker has: with the clock held still (no refill),
 * three brokers together allow at most the rate; the block a broker holds is what it may spend
 * beyond what the bucket says; and when the bucket cannot be reached an exchange is refused
 * (BUS_UNAVAILABLE) unless the broker still holds a leased token.
 */
const rate = parseRate("60/minute");
const rates = [{ grant: "g", rate }];
let nats: NatsServer;
const conns: NatsConnection[] = [];
const limiter = async (now: () => number, timeoutMs?: number): Promise<RateLimiter> => {
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  conns.push(nc);
  return createSharedRateLimiter({ nats: nc, logger: silentLogger, now, ...(timeoutMs && { timeoutMs }) });
};
const outcome = (p: void | Promise<void>) =>
  Promise.resolve(p).then(
    () => "ok",
    (err: unknown) => (err instanceof XbusError ? err.reason : String(err)),
  );

beforeAll(async () => {
  nats = await NatsServer.start();
});
afterAll(async () => {
  for (const nc of conns) await nc.close().catch(() => {});
  await nats?.dispose();
});

describe("shared rate limiter", () => {
  it("three brokers with the clock held still allow at most the rate between them, and lease all of it", async () => {
    const t = 1_000_000;
    const brokers = await Promise.all([1, 2, 3].map(() => limiter(() => t)));
    const results = await Promise.all(
      Array.from({ length: 150 }, (_, i) => outcome(brokers[i % 3]?.take("consumer-a", rates))),
    );
    // Never more than the rate; less only by what a broker leased for requests that did not come (its last
    // block's rest, at most block − 1 each), which it keeps for the next ones.
    const allowed = results.filter((r) => r === "ok").length;
    expect(allowed).toBeLessThanOrEqual(rate.count);
    expect(allowed).toBeGreaterThanOrEqual(rate.count - 3 * (blockOf(rate) - 1));
    expect(new Set(results.filter((r) => r !== "ok"))).toEqual(new Set(["RATE_LIMITED"]));
    // Every token of the bucket was leased: a fourth broker gets none.
    expect(await outcome((await limiter(() => t)).take("consumer-a", rates))).toBe("RATE_LIMITED");
    // Another consumer of the same grant has its own bucket.
    expect(await outcome(brokers[0]?.take("consumer-b", rates))).toBe("ok");
  });

  it("refills at the rate, and names the wait when spent", async () => {
    let t = 5_000_000;
    const b = await limiter(() => t);
    for (let i = 0; i < rate.count; i++) await b.take("consumer-c", rates);
    const err = await Promise.resolve(b.take("consumer-c", rates)).catch((e: unknown) => e as XbusError);
    expect(err).toMatchObject({ reason: "RATE_LIMITED", retryAfterMs: 1000 });
    t += 10_000;
    const more = await Promise.all(Array.from({ length: 20 }, () => outcome(b.take("consumer-c", rates))));
    expect(more.filter((r) => r === "ok")).toHaveLength(10);
  });

  it("fails closed when the bucket cannot be reached, after spending the tokens it holds", async () => {
    const t = 9_000_000;
    const b = await limiter(() => t, 300);
    await b.take("consumer-d", rates);
    await nats.stop();
    try {
      // The rest of the block leased with the first token is spent without the bucket.
      for (let i = 1; i < blockOf(rate); i++) expect(await outcome(b.take("consumer-d", rates))).toBe("ok");
      expect(await outcome(b.take("consumer-d", rates))).toBe("BUS_UNAVAILABLE");
    } finally {
      await nats.restart();
    }
  });
});
