import { type ConnectionOptions, connect, type NatsConnection } from "@nats-io/transport-node";
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
    return await connect({ ...options, waitOnFirstConnect: false });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (e.name !== "ConnectionError" && e.name !== "TimeoutError") {
      const servers = [options.servers ?? []].flat().join(", ");
      throw new Error(`NATS ${servers} refused the connection: ${e.message}`);
    }
    onWait(e);
    return connect({ ...options, waitOnFirstConnect: true });
  }
}
