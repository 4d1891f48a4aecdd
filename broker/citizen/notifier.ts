import type { Logger } from "../../core/index.js";
import type { LogIndexReader, Visibility } from "../indexer/log-index.js";
import type { NotifyStore } from "./notify-store.js";

/**
 * What a citizen portal is told when an access becomes visible on a citizen's page: which citizen (by
 * subject reference, the log's keyed hash of the ID), which log entry, and why now. No record data, no
 * consumer, no service: the portal sends its own "someone read your data, see the page" message.
 */
export interface AccessNotice {
  subject_ref: string;
  index: number;
  /** ms since the epoch: the exchange was appended, or its delayed disclosure ended. */
  visible_at: number;
  /** `exchange`: a new access, shown at once; `disclosed`: a covert access whose embargo ended. */
  reason: "exchange" | "disclosed";
}

/** Where notices go: a NATS subject, a portal's webhook. A sink that throws loses that notice only. */
export interface NoticeSink {
  readonly name: string;
  send(notice: AccessNotice): Promise<void>;
}

export interface AccessNotifierOptions {
  index: LogIndexReader;
  store: NotifyStore;
  sinks: readonly NoticeSink[];
  /** The clock delayed disclosure is judged by, as the citizen page's. */
  now: () => number;
  logger: Logger;
  /** Entries read per poll at most (default 1000): a backlog is worked off over several polls. */
  batch?: number;
}

export interface AccessNotifier {
  /** Looks once at new entries and lapsed embargoes; resolves with the number of notices sent. */
  poll(): Promise<number>;
  /** Notices that a sink failed to take, since start. */
  readonly failures: number;
}

/**
 * Tells opted-in citizens' portals of each access when it becomes visible to them: new entries shown
 * at once when they are appended, covert ones when their embargo ends (never before: the notice would
 * tip off the person under investigation). Each access is noticed once: progress is kept in the store,
 * and a notice that a sink fails to take is logged and counted, not retried.
 */
export function createAccessNotifier(o: AccessNotifierOptions): AccessNotifier {
  const batch = o.batch ?? 1000;
  // First start: only what is appended or disclosed from now on; the past is on the page already.
  let { next, disclosedUpTo } = o.store.progress() ?? { next: o.index.treeSize, disclosedUpTo: o.now() };
  let failures = 0;
  const send = async (v: Visibility, at: number, reason: AccessNotice["reason"]) => {
    const notice: AccessNotice = { subject_ref: v.subjectRef, index: v.index, visible_at: at, reason };
    const results = await Promise.allSettled(o.sinks.map((s) => s.send(notice)));
    results.forEach((r, i) => {
      if (r.status === "fulfilled") return;
      failures++;
      o.logger.warn(
        { sink: o.sinks[i]?.name, index: v.index, err: r.reason },
        "citizen notice not delivered",
      );
    });
  };
  return {
    get failures() {
      return failures;
    },
    async poll() {
      const now = o.now();
      const start = next;
      let sent = 0;
      const fresh = o.index.visibility(start, batch);
      for (const v of fresh) {
        // An embargoed entry waits for the lapse pass of the poll in which its embargo ends.
        if (v.subjectRef !== "" && v.discloseAfter <= now && o.store.enabled(v.subjectRef)) {
          await send(v, now, "exchange");
          sent++;
        }
        next = v.index + 1;
      }
      // Entries read by this poll were judged against `now` above; only those before it are due here.
      const lapsed = o.index.disclosedBetween(disclosedUpTo, now, start, batch);
      for (const v of lapsed) {
        if (o.store.enabled(v.subjectRef)) {
          await send(v, v.discloseAfter, "disclosed");
          sent++;
        }
      }
      // A full page of lapses: carry on from the last one next time rather than skip the rest.
      disclosedUpTo = lapsed.length === batch ? (lapsed.at(-1)?.discloseAfter ?? now) : now;
      o.store.saveProgress({ next, disclosedUpTo });
      return sent;
    },
  };
}
