import type { NatsConnection } from "@nats-io/transport-node";

/**
 * Whether a NATS connection is up right now, from its status events. While it
 * is down nats.js buffers requests and publishes until their timeout; callers
 * use this to answer UNAVAILABLE at once instead of holding the consumer.
 */
export function watchConnectivity(nc: NatsConnection): { readonly up: boolean } {
  let up = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") up = false;
      else if (s.type === "reconnect") up = true;
    }
  })().catch(() => {});
  return {
    get up() {
      return up && !nc.isClosed();
    },
  };
}
