import { type ConnectionOptions, connect, type NatsConnection } from "@nats-io/transport-node";

/**
 * A component's mutual-TLS identity on NATS. From files where there are any:
 * nats.js reads them again on every (re)connect, so a renewed certificate, or
 * a trust bundle with a new CA, is taken up at the next reconnect without a
 * restart. PEM contents only for identities that never touch the disk (tests).
 */
export type NatsClientTls =
  | { caFile: string; certFile: string; keyFile: string }
  | { ca: string; cert: string; key: string };

export interface NatsClientOptions {
  servers: string | string[];
  /** The connection's name, as nats-server's monitoring shows it. */
  name?: string;
  tls?: NatsClientTls;
  /** The component's own settings (a connector's: `connectorNatsOptions`), over the defaults below. */
  extra?: Partial<ConnectionOptions>;
}

/**
 * Connection options for a long-lived component of the bus (broker, indexer,
 * connector). Plain data, so a worker thread can connect with the same options
 * (the indexer does). Components never give up on NATS: they keep reconnecting
 * and answer UNAVAILABLE meanwhile.
 */
export function natsClientOptions(o: NatsClientOptions): ConnectionOptions {
  return {
    servers: o.servers,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...(o.name ? { name: o.name } : {}),
    ...o.extra,
    ...(o.tls ? { tls: o.tls } : {}),
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
