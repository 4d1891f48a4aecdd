import { createHash } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../core/index.js";
import { XbusError } from "../../core/index.js";
import type { Rate } from "../../policies/index.js";
import { isWrongLastSequence } from "../indexer/head-lock.js";
import { openOrCreateBucket } from "../log/stream-settings.js";
import { type GrantRates, type RateLimiter, rateLimited } from "./rate-limiter.js";

/** The KV bucket of the federation's rate counters. */
export const RATE_BUCKET = "xbus_rates";
/** A counter idle for a day has refilled (no rate is slower than per day): it may go. */
export const RATE_BUCKET_OPTIONS = { history: 1, ttl: 25 * 3_600_000 };

/** Tokens a broker leases at once: 1/20 of the rate, rounded up, at most 100 (README, "Log service"). */
export function blockOf(rate: Rate): number {
  return Math.min(100, Math.max(1, Math.ceil(rate.count / 20)));
}

export interface SharedRateLimiterOptions {
  nats: NatsConnection;
  bucket?: string;
  /** Milliseconds a counter's read or swap may take before the exchange is refused. Default 1000. */
  timeoutMs?: number;
  /** (grant, consumer) pairs whose leased tokens are kept at most; the least recently used go first. Default 10 000. */
  maxKept?: number;
  logger: Logger;
  now?: () => number;
}

/** A counter in the bucket: a token bucket shared by every broker. */
interface Counter {
  /** Tokens left, fractional (refilled continuously). */
  tokens: number;
  /** When `tokens` was computed, ms since the epoch (never moves back, whatever a broker's clock says). */
  at: number;
  /** The rate it was made for: a policy change starts it afresh. */
  rate: string;
}

interface Held {
  tokens: number;
  rate: string;
  /** The lease under way, if any: every request that finds no token waits for the same one. */
  leasing: Promise<number> | undefined;
}

/**
 * Grants' rates across every broker of the federation: one token bucket per (grant, consumer) in a
 * JetStream KV key, refilled at the grant's rate. A broker leases a block of tokens from it by
 * compare-and-swap on the key's revision (so no token is leased twice) and spends them locally, one
 * per exchange, without a round trip; it leases again when its block is spent, one lease at a time
 * per key. Over any interval, N brokers allow at most the bucket's size (the rate's count), plus
 * what refills meanwhile, plus the block each broker may still hold from before: one block per broker.
 *
 * When the bucket cannot be read or written in time the exchange is refused (fail closed,
 * BUS_UNAVAILABLE): the bucket lives in the same JetStream as the exchange log, without which no
 * exchange completes anyway, and a per-broker fallback would allow N times the rate. Tokens a
 * broker already holds are still spent.
 */
export async function createSharedRateLimiter(o: SharedRateLimiterOptions): Promise<RateLimiter> {
  const timeout = o.timeoutMs ?? 1000;
  const kv: KV = await openOrCreateBucket(
    jetstream(o.nats, { timeout }),
    o.bucket ?? RATE_BUCKET,
    RATE_BUCKET_OPTIONS,
  );
  const now = o.now ?? Date.now;
  const held = new Map<string, Held>();
  const maxKept = o.maxKept ?? 10_000;

  /** Leases a block into `h`; resolves with the wait until a token refills when the bucket is empty. */
  const lease = async (key: string, r: GrantRates[number], h: Held): Promise<number> => {
    const { count, perMs, text } = r.rate;
    for (let attempt = 0; attempt < 20; attempt++) {
      const e = await kv.get(key);
      let c: Counter | undefined;
      if (e?.operation === "PUT") {
        try {
          c = JSON.parse(e.string()) as Counter;
        } catch {
          c = undefined;
        }
      }
      const t = now();
      const fresh = !c || c.rate !== text || !Number.isFinite(c.tokens) || !Number.isFinite(c.at);
      const at = fresh || !c ? t : Math.max(t, c.at);
      const tokens = fresh || !c ? count : Math.min(count, c.tokens + ((at - c.at) * count) / perMs);
      if (tokens < 1) return Math.ceil(((1 - tokens) * perMs) / count);
      const block = Math.min(blockOf(r.rate), Math.floor(tokens));
      const value = JSON.stringify({ tokens: tokens - block, at, rate: text } satisfies Counter);
      try {
        if (e) await kv.update(key, value, e.revision);
        else await kv.create(key, value);
      } catch (err) {
        if (isWrongLastSequence(err)) continue; // another broker leased meanwhile: read again
        throw err;
      }
      h.tokens += block;
      return 0;
    }
    throw new Error("the rate counter kept changing under 20 leases in a row");
  };

  const keyOf = (consumer: string, grant: string) =>
    `r.${createHash("sha256").update(grant).update("\u0000").update(consumer).digest("hex").slice(0, 40)}`;

  /** One token of `r` for `consumer`, leasing a block when none is held; the wait when the rate is spent. */
  const takeOne = async (consumer: string, r: GrantRates[number]): Promise<Held | number> => {
    const key = keyOf(consumer, r.grant);
    let h = held.get(key);
    if (!h || h.rate !== r.rate.text) h = { tokens: 0, rate: r.rate.text, leasing: undefined };
    // Map order is use order; forgetting a pair's tokens only ever allows less.
    held.delete(key);
    held.set(key, h);
    for (const [k, v] of held) {
      if (held.size <= maxKept) break;
      if (v.leasing === undefined) held.delete(k);
    }
    while (h.tokens < 1) {
      const current = h;
      current.leasing ??= lease(key, r, current).finally(() => {
        current.leasing = undefined;
      });
      let waitMs: number;
      try {
        waitMs = await current.leasing;
      } catch (err) {
        o.logger.warn({ err }, "the federation's rate counters cannot be reached; refusing rated exchanges");
        throw new XbusError(
          "BUS_UNAVAILABLE",
          "the federation's rate counters cannot be reached; exchanges under a grant with a rate are refused until they can",
          { cause: err },
        );
      }
      if (waitMs > 0) return waitMs;
    }
    h.tokens -= 1;
    return h;
  };

  return {
    async take(consumer, rates) {
      const taken: Held[] = [];
      for (const r of rates) {
        const got = await takeOne(consumer, r);
        if (typeof got === "number") {
          for (const h of taken) h.tokens += 1; // still leased: kept for the next exchange
          throw rateLimited([r], got);
        }
        taken.push(got);
      }
    },
  };
}
