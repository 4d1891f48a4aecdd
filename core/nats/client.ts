import { type ConnectionOptions, connect, type NatsConnection } from "@nats-io/transport-node";
import { dropStaleSockets } from "./stale.js";
import type { NatsTlsInForce } from "./tls.js";

export interface NatsClientOptions {
  servers: string | string[];
  /** The connection's name, as nats-server's monitoring shows it. */
  name?: string;
  /**
   * The component's mutual-TLS identity on NATS: the set in force (core/nats/tls.ts), read again at every
   * (re)connect, never file paths.
   */
  tls?: NatsTlsInForce;
  /** The component's own settings (a connector's: `connectorNatsOptions`), over the defaults below. */
  extra?: Partial<ConnectionOptions>;
}

/**
 * How often a component pings its nats-server, and how many pings may go unanswered before it drops the
 * connection as stale and dials another server. A server that stops answering without closing the socket (a
 * partition, a frozen machine) is left after ~6 s (maxPingOut + 1 intervals); nats.js's default (2 min × 2) would keep a broker on a dead
 * core node, failing every exchange, for minutes. deploy/nats/*.conf ping at the same pace from the servers' side.
 */
export const NATS_PING = { pingInterval: 2000, maxPingOut: 2 } as const;

/**
 * How long a dial may take to reach a working connection (TCP, TLS, INFO/CONNECT/PONG). A frozen server still
 * accepts TCP (its kernel does) and then says nothing: with nats.js's default (20 s) a reconnect that tries it
 * first waits 20 s before it tries the next server.
 */
export const NATS_DIAL_TIMEOUT_MS = 3000;

/**
 * Connection options for a long-lived component of the bus (broker, indexer,
 * connector). Components never give up on NATS: they keep reconnecting and
 * answer UNAVAILABLE meanwhile. Without `tls` the options are plain data, as
 * a worker thread's connection needs them (the indexer's gets its identity
 * apart, startIndexerWorker).
 */
export function natsClientOptions(o: NatsClientOptions): ConnectionOptions {
  return {
    servers: o.servers,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...NATS_PING,
    timeout: NATS_DIAL_TIMEOUT_MS,
    ...(o.name ? { name: o.name } : {}),
    ...o.extra,
    ...(o.tls ? { tls: o.tls.option } : {}),
  };
}

/**
 * The first connection of a component tells a configuration problem from an
 * outage: a certificate NATS refuses or a trust bundle that does not verify
 * the server throws with NATS's reason, where reconnecting would retry it for
 * ever in silence; a server that is not up yet is waited for (`onWait` says
 * so), as a component started before NATS must come up by itself.
 */
export async function connectOrWait(
  options: ConnectionOptions,
  onWait: (err: Error) => void,
): Promise<NatsConnection> {
  try {
    return await connectComponent({ ...options, waitOnFirstConnect: false });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (e.name !== "ConnectionError" && e.name !== "TimeoutError") {
      const servers = [options.servers ?? []].flat().join(", ");
      throw new Error(`NATS ${servers} refused the connection: ${e.message}`);
    }
    onWait(e);
    return connectComponent({ ...options, waitOnFirstConnect: true });
  }
}

/**
 * How every long-lived component connects (with natsClientOptions' options): nats.js's connect, and the
 * connection made to let go of a server that stopped answering (dropStaleSockets), which options alone cannot do.
 */
export async function connectComponent(options: ConnectionOptions): Promise<NatsConnection> {
  const nc = await connect(options);
  dropStaleSockets(nc);
  return nc;
}
