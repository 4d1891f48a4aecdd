import type { XbusMetrics } from "./metrics.js";

/** Counts a connection's reconnects until it closes, shown at 0 from now. Structural type: any NATS client with `status()`. */
export function countNatsReconnects(
  nc: { status(): AsyncIterable<{ type: string }> },
  metrics: XbusMetrics,
  component: string,
): void {
  metrics.natsConnected(component);
  void (async () => {
    for await (const s of nc.status()) if (s.type === "reconnect") metrics.natsReconnect(component);
  })().catch(() => {
    // The iterator ends with the connection; an error there is not the exchange's concern.
  });
}
