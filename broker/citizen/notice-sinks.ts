import type { NatsConnection } from "@nats-io/transport-node";
import type { AccessNotice, NoticeSink } from "./notifier.js";

/** The one subject notices are published on: fixed, never built from a notice's contents. */
export const NOTIFY_SUBJECT = "xbus.citizen.notify";

/** Publishes each notice as JSON on NOTIFY_SUBJECT (core NATS: a portal that is not listening misses it). */
export function natsNoticeSink(nc: NatsConnection): NoticeSink {
  return {
    name: "nats",
    send: async (n: AccessNotice) => nc.publish(NOTIFY_SUBJECT, JSON.stringify(n)),
  };
}

/**
 * POSTs each notice as JSON to the citizen portal's URL (http or https); an answer that is not 2xx, or
 * none within `timeoutMs`, fails that notice.
 */
export function webhookNoticeSink(url: string, timeoutMs = 5000): NoticeSink {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new Error(`notification webhook: ${JSON.stringify(url)} is not a URL`);
  }
  if (target.protocol !== "https:" && target.protocol !== "http:")
    throw new Error(`notification webhook: ${target.protocol} is not http or https`);
  if (target.username || target.password)
    throw new Error("notification webhook: put no credentials in the URL");
  return {
    name: "webhook",
    async send(n: AccessNotice) {
      const res = await fetch(target, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(n),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: "error",
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`the portal answered ${res.status}`);
    },
  };
}
