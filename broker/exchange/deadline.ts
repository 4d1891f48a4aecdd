/** How long the broker waits for a provider when the consumer set no deadline, and the most it ever waits. */
export const DEFAULT_BUDGET_MS = 10_000;
export const MAX_BUDGET_MS = 60_000;

/** The absolute deadline (ms since the epoch) for routing, from the consumer's gRPC deadline. */
export function routingDeadline(callDeadline: Date | number, now = Date.now()): number {
  const asMs = callDeadline instanceof Date ? callDeadline.getTime() : callDeadline;
  if (!Number.isFinite(asMs)) return now + DEFAULT_BUDGET_MS;
  return Math.min(asMs, now + MAX_BUDGET_MS);
}
