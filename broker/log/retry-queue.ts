import type { Logger } from "../../core/index.js";

/**
 * Why a record left the retry queue without reaching the log: it can never be
 * appended (`too_large`: over the record cap or the server's max_payload;
 * `refused`: JetStream refuses it for good, e.g. over the stream's
 * max_msg_size), or there was no room left to keep it (`queue_full`).
 */
export type DeadLetterReason = "too_large" | "refused" | "queue_full";

export interface RetryQueueOptions {
  append: (bytes: Uint8Array, msgId: string, timeoutMs: number) => Promise<unknown>;
  /** False while NATS is down: a round then waits for the link rather than time out entry by entry. */
  isUp: () => boolean;
  timeoutMs: number;
  /** Bound of the bytes held, records of failed exchanges waiting for the log. */
  maxBytes: number;
  logger: Logger;
  onDeadLetter?: (reason: DeadLetterReason) => void;
  /** Between drain rounds. Default 1 s. */
  intervalMs?: number;
}

export interface RetryQueue {
  /** Keeps the record for a retry; false (and dead-lettered) when it cannot be kept. */
  add(bytes: Uint8Array, msgId: string): boolean;
  /** Bytes held now. */
  readonly bytes: number;
  readonly size: number;
  /** True when a record of `bytes` would not fit. */
  wouldOverflow(bytes: number): boolean;
  /** One round now (tests; the timer runs rounds by itself). */
  drain(): Promise<void>;
  /** Counts a record that never reached the log and logs it, rate-limited. */
  deadLetter(msgId: string, size: number, reason: DeadLetterReason, err?: unknown): void;
}

/** Failures that no retry can cure: the bytes themselves are refused, not the moment. */
export function isPermanentAppendError(err: unknown): DeadLetterReason | undefined {
  const msg = err instanceof Error ? err.message : String(err);
  if (/max_payload|maximum payload/i.test(msg)) return "too_large";
  // nats-server: JSStreamMessageExceedsMaximumErr (10054), "message size exceeds maximum allowed".
  if (/message size exceeds maximum|\(10054\)/i.test(msg)) return "refused";
  return undefined;
}

// A round stops after this many failures in a row that were not the entry's fault: the log refuses
// everything now, so wait for the next round. Failed entries move to the back, so no entry holds the others up.
const GIVE_UP_AFTER = 3;
const LOG_EVERY_MS = 10_000;

/**
 * Records of failed exchanges that the log could not take within the
 * consumer's deadline (nothing was released for them). Retried every second,
 * idempotent by exchange id; bounded in bytes. The drain never stops at one
 * entry: a record that can never be appended is dead-lettered (counted, logged
 * at most once per 10 s with how many since), one that failed for the moment
 * goes to the back of the queue and the round goes on.
 */
export function createRetryQueue(o: RetryQueueOptions): RetryQueue {
  const queue = new Map<string, Uint8Array>();
  let held = 0;
  let timer: NodeJS.Timeout | undefined;
  let draining = false;
  const dead = { total: 0, unlogged: 0, lastLogAt: 0 };

  const deadLetter = (msgId: string, size: number, reason: DeadLetterReason, err?: unknown) => {
    dead.total++;
    o.onDeadLetter?.(reason);
    const now = Date.now();
    if (now - dead.lastLogAt < LOG_EVERY_MS) {
      dead.unlogged++;
      return;
    }
    o.logger.error(
      {
        exchange_id: msgId,
        bytes: size,
        reason,
        dead_letters: dead.total,
        not_logged_since_last_line: dead.unlogged,
        ...(err === undefined ? {} : { err }),
      },
      "exchange log: a failed exchange's record can never be appended and was dead-lettered",
    );
    dead.lastLogAt = now;
    dead.unlogged = 0;
  };
  const remove = (id: string, bytes: Uint8Array) => {
    if (queue.delete(id)) held -= bytes.length;
  };
  const drain = async () => {
    if (draining) return;
    draining = true;
    timer = undefined;
    let failedInARow = 0;
    try {
      // A snapshot: entries moved to the back during this round wait for the next.
      for (const [id, bytes] of [...queue]) {
        if (!o.isUp() || failedInARow >= GIVE_UP_AFTER) break;
        try {
          await o.append(bytes, id, o.timeoutMs);
          remove(id, bytes);
          failedInARow = 0;
        } catch (err) {
          const permanent = isPermanentAppendError(err);
          remove(id, bytes);
          if (permanent) {
            deadLetter(id, bytes.length, permanent, err);
            continue;
          }
          failedInARow++;
          queue.set(id, bytes); // to the back
          held += bytes.length;
        }
      }
    } finally {
      draining = false;
    }
    if (queue.size > 0) schedule();
    else
      o.logger.info({ dead_letters: dead.total }, "exchange log caught up with the records it had to retry");
  };
  const schedule = () => {
    timer ??= setTimeout(() => void drain(), o.intervalMs ?? 1000);
    timer.unref();
  };
  return {
    add(bytes, id) {
      if (queue.has(id)) return true;
      if (held + bytes.length > o.maxBytes) {
        deadLetter(id, bytes.length, "queue_full");
        return false;
      }
      queue.set(id, bytes);
      held += bytes.length;
      schedule();
      return true;
    },
    get bytes() {
      return held;
    },
    get size() {
      return queue.size;
    },
    wouldOverflow: (bytes) => held + bytes > o.maxBytes,
    drain,
    deadLetter,
  };
}
