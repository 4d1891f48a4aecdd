/**
 * The routes a connector has served, each until its deadline: a captured
 * route message (NATS request, headers and body) published again before its
 * deadline is refused instead of served twice. Keyed by the exchange id, which
 * the broker's signature covers and makes unique per route; only routes whose
 * signature checked are admitted, so forged ones cannot fill it.
 *
 * Bounded: at `max` routes still within their deadlines, a new one is refused
 * (ROUTE_REPLAYED would be wrong, so the caller answers PROVIDER_BUSY) rather
 * than an old one forgotten, which would let it be replayed. Expired entries
 * are swept when the map has doubled since the last sweep, so the cost per
 * route stays constant.
 */
export interface ReplayCache {
  /** "fresh" the first time a route is seen before its deadline; "replayed" after; "full" at the bound. */
  admit(exchangeId: string, deadlineMs: number, now?: number): "fresh" | "replayed" | "full";
  readonly size: number;
}

export function createReplayCache(max = 200_000): ReplayCache {
  const seen = new Map<string, number>();
  let sweepAt = 1024;
  const sweep = (now: number) => {
    for (const [id, deadline] of seen) if (deadline <= now) seen.delete(id);
    sweepAt = Math.max(1024, seen.size * 2);
  };
  return {
    admit(exchangeId, deadlineMs, now = Date.now()) {
      const known = seen.get(exchangeId);
      if (known !== undefined) {
        if (known > now) return "replayed";
        seen.delete(exchangeId);
      }
      if (seen.size >= sweepAt || seen.size >= max) sweep(now);
      if (seen.size >= max) return "full";
      seen.set(exchangeId, deadlineMs);
      return "fresh";
    },
    get size() {
      return seen.size;
    },
  };
}
