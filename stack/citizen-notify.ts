import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type AccessNotifier,
  createAccessNotifier,
  type LogIndexReader,
  type NoticeSink,
  type NotifyStore,
  natsNoticeSink,
  openNotifyStore,
  subjectRef,
  webhookNoticeSink,
} from "../broker/index.js";
import type { Logger } from "../core/index.js";

/** Where to tell a citizen portal of new accesses: NOTIFY_SUBJECT on NATS, a webhook, or both. */
export interface CitizenNotifyOptions {
  /** Publish notices on `xbus.citizen.notify`. */
  nats?: boolean;
  /** POST notices to this URL (the citizen portal's). */
  webhookUrl?: string;
  /** Citizen IDs opted in from the start (dev and tests); citizens opt in on their page otherwise. */
  optIn?: readonly string[];
  /** How often the log is looked at, ms (default 1000). */
  intervalMs?: number;
}

export interface CitizenNotifications {
  readonly store: NotifyStore;
  readonly notifier: AccessNotifier;
  close(): Promise<void>;
}

/**
 * The notifier of "who read my data" (broker/citizen/notifier.ts) over the log index, its store in
 * `<dir>/citizen-notify.sqlite`, polling on a timer; a poll never overlaps the last.
 */
export function startCitizenNotifications(o: {
  dir: string;
  index: LogIndexReader;
  nats: NatsConnection;
  logSecret: Uint8Array;
  now: () => number;
  logger: Logger;
  options: CitizenNotifyOptions;
}): CitizenNotifications {
  const sinks: NoticeSink[] = [];
  if (o.options.nats) sinks.push(natsNoticeSink(o.nats));
  if (o.options.webhookUrl) sinks.push(webhookNoticeSink(o.options.webhookUrl));
  if (sinks.length === 0) throw new Error("citizen notifications: give nats, a webhook URL, or both");
  const store = openNotifyStore(join(o.dir, "citizen-notify.sqlite"));
  for (const id of o.options.optIn ?? []) store.set(subjectRef(o.logSecret, id), true, o.now());
  const notifier = createAccessNotifier({ index: o.index, store, sinks, now: o.now, logger: o.logger });
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() =>
      notifier.poll().catch((err: unknown) => o.logger.error({ err }, "citizen notifier poll failed")),
    );
  }, o.options.intervalMs ?? 1000);
  return {
    store,
    notifier,
    async close() {
      clearInterval(timer);
      await running;
      store.close();
    },
  };
}
