import type { Socket } from "node:net";
import type { NatsConnection } from "@nats-io/transport-node";

/** How long nats.js is left to close a stale connection itself before its socket is destroyed under it. */
const CLOSE_GRACE_MS = 500;

/** The socket of nats.js's current transport (nats.js 3.4: `protocol.transport.socket`), if it can be found. */
function currentSocket(nc: NatsConnection): Socket | undefined {
  const internals = nc as unknown as { protocol?: { transport?: { socket?: Socket } } };
  return internals.protocol?.transport?.socket;
}

/**
 * Makes a stale connection let go. When pings go unanswered nats.js (3.4) declares the connection stale and
 * closes its transport — but first flushes what it still has to send, and waits for that write to complete.
 * A server that stopped reading without closing the socket (a frozen machine, a partition) stopped acking
 * long before, so under load the socket's buffers are full, the write never completes, the close never
 * finishes, and the client neither reconnects nor says it is disconnected: a broker sat on a frozen core
 * node failing every exchange until the node came back (`npm run faults`, row core-freeze). So: once the
 * connection is declared stale, nats.js gets CLOSE_GRACE_MS to close it; after that its socket is destroyed,
 * the pending write fails, the close completes, and nats.js dials another server as it would after any
 * disconnect. `core/nats/stale.test.ts` proves it against a frozen nats-server (and fails if a
 * nats.js upgrade moves the socket).
 */
export function dropStaleSockets(nc: NatsConnection, graceMs = CLOSE_GRACE_MS): void {
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type !== "staleConnection") continue;
      const socket = currentSocket(nc);
      setTimeout(() => {
        if (socket && !socket.destroyed && currentSocket(nc) === socket) socket.destroy();
      }, graceMs).unref();
    }
  })();
}
