import type { ExchangeOutcome } from "../exchange/outcome.js";

/**
 * Folding of refused attempts (issue 19, finding 5): a consumer that sends
 * hundreds of invalid or denied requests a second must not fill the log. Per
 * identity, decision and status, the first `logFirst` attempts of a window are
 * logged one by one; the rest of that window are only counted, and when the
 * window ends one summary record stands for them (`folded_count`). Allowed and
 * failed exchanges are never folded: each has its own record.
 *
 * Folding rather than refusing: the consumer gets the same answer either way,
 * the log keeps how many attempts there were, and a reviewer's `denials`
 * alert still sees the first `logFirst` of each window one by one.
 */
export interface FoldOptions {
  /** Default 60 s. */
  windowMs?: number;
  /** Attempts logged one by one per key and window. Default 20. */
  logFirst?: number;
  /** Keys tracked at once; past it, attempts of new keys share one key per decision and status. Default 10 000. */
  maxKeys?: number;
}

export interface FoldSummary {
  /** The first folded attempt, whose identity, decision and status the summary carries. */
  first: ExchangeOutcome;
  count: number;
  windowStart: number;
  windowMs: number;
  /** The service and purpose all folded attempts named, or empty when they differed. */
  service: string;
  purpose: string;
}

interface Window {
  start: number;
  seen: number;
  folded: FoldSummary | undefined;
}

export interface Folder {
  /** True when `o` is folded (not logged on its own); false when it must be logged. */
  fold(o: ExchangeOutcome, now: number): boolean;
  /** Summaries of windows that ended by `now` (all of them when `now` is Infinity), removed from the folder. */
  due(now: number): FoldSummary[];
  readonly windowMs: number;
}

export const DEFAULT_FOLD_WINDOW_MS = 60_000;
export const DEFAULT_FOLD_LOG_FIRST = 20;

export function createFolder(o: FoldOptions = {}): Folder {
  const windowMs = o.windowMs ?? DEFAULT_FOLD_WINDOW_MS;
  const logFirst = o.logFirst ?? DEFAULT_FOLD_LOG_FIRST;
  const maxKeys = o.maxKeys ?? 10_000;
  const windows = new Map<string, Window>();
  const ended: FoldSummary[] = [];
  const close = (key: string, w: Window) => {
    windows.delete(key);
    if (w.folded) ended.push(w.folded);
  };
  return {
    windowMs,
    fold(x, now) {
      if (x.decision !== "deny" && x.decision !== "invalid") return false;
      const who = x.consumer ?? (x.certSerial ? `serial:${x.certSerial}` : "_unidentified");
      let key = `${who}\n${x.decision}\n${x.status}`;
      if (!windows.has(key) && windows.size >= maxKeys) key = `_many\n${x.decision}\n${x.status}`;
      let w = windows.get(key);
      if (w && now - w.start >= windowMs) {
        close(key, w);
        w = undefined;
      }
      if (!w) {
        w = { start: now, seen: 0, folded: undefined };
        windows.set(key, w);
      }
      w.seen++;
      if (w.seen <= logFirst) return false;
      if (!w.folded) {
        w.folded = {
          first: x,
          count: 0,
          windowStart: w.start,
          windowMs,
          service: x.service,
          purpose: x.purpose,
        };
      }
      const f = w.folded;
      f.count++;
      if (f.service !== x.service) f.service = "";
      if (f.purpose !== x.purpose) f.purpose = "";
      return true;
    },
    due(now) {
      for (const [key, w] of windows) if (now - w.start >= windowMs) close(key, w);
      return ended.splice(0);
    },
  };
}
