import { XbusError } from "../../core/index.js";
import type { Rate } from "../../policies/index.js";

/** The grants' rates an exchange spends one request of each. */
export type GrantRates = readonly { readonly grant: string; readonly rate: Rate }[];

/**
 * Grants' `rate:`, per consumer system and grant (a grant names one service, so
 * this is per consumer and service): in memory per broker (createRateLimiter),
 * or federation-wide through a KV bucket (createSharedRateLimiter).
 */
export interface RateLimiter {
  /** Spends one request of each rate, or none and throws RATE_LIMITED with a retry hint. */
  take(consumer: string, rates: GrantRates): void | Promise<void>;
}

/**
 * Token buckets in memory, per broker: with N brokers a consumer gets at most
 * N times the rate.
 */
export interface LocalRateLimiter extends RateLimiter {
  take(consumer: string, rates: GrantRates): void;
  readonly size: number;
}

/** RATE_LIMITED naming the grants that are spent, with the time until a request is free again. */
export function rateLimited(spent: GrantRates, waitMs: number): XbusError {
  const names = spent.map((r) => `${r.grant} (${r.rate.text})`);
  return new XbusError("RATE_LIMITED", `over the rate of grant ${names.join(", ")}; retry in ${waitMs} ms`, {
    retryAfterMs: waitMs,
  });
}

export interface RateLimiterOptions {
  /** Buckets kept at most; the least recently used goes first. Default 10 000. */
  maxBuckets?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  updated: number;
  /** The rate the bucket was made for: a reload that changes it starts afresh. */
  rate: string;
}

export function createRateLimiter(options: RateLimiterOptions = {}): LocalRateLimiter {
  const maxBuckets = options.maxBuckets ?? 10_000;
  const now = options.now ?? Date.now;
  const buckets = new Map<string, Bucket>();

  const refill = (key: string, rate: Rate, t: number): Bucket => {
    let b = buckets.get(key);
    if (b === undefined || b.rate !== rate.text) {
      b = { tokens: rate.count, updated: t, rate: rate.text };
    } else {
      b.tokens = Math.min(rate.count, b.tokens + ((t - b.updated) * rate.count) / rate.perMs);
      b.updated = t;
      // Map order is use order: re-inserting marks it recently used.
      buckets.delete(key);
    }
    buckets.set(key, b);
    while (buckets.size > maxBuckets) {
      const oldest = buckets.keys().next().value;
      if (oldest === undefined) break;
      buckets.delete(oldest);
    }
    return b;
  };

  return {
    take(consumer, rates) {
      if (rates.length === 0) return;
      const t = now();
      const held = rates.map((r) => ({ r, b: refill(`${r.grant}\u0000${consumer}`, r.rate, t) }));
      let waitMs = 0;
      for (const { r, b } of held) {
        if (b.tokens < 1)
          waitMs = Math.max(waitMs, Math.ceil(((1 - b.tokens) * r.rate.perMs) / r.rate.count));
      }
      if (waitMs > 0)
        throw rateLimited(
          held.filter(({ b }) => b.tokens < 1).map(({ r }) => r),
          waitMs,
        );
      for (const { b } of held) b.tokens -= 1;
    },
    get size() {
      return buckets.size;
    },
  };
}
