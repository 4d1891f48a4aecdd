import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { natsClientOptions, natsTlsInForce } from "../../core/nats/index.js";
import {
  type CoreCluster,
  type Identities,
  LOOPBACK,
  natsUsersConfig,
  openIdentities,
  type PemPair,
  startCoreCluster,
  TRUST_DOMAIN,
} from "../../stack/index.js";

/**
 * A core cluster on loopback with a fresh CA: server and route certificates,
 * an admin and a broker identity, and the users they map to. Dispose it in
 * afterAll (it removes its folder).
 */
export interface TestCluster {
  readonly dir: string;
  readonly ids: Identities;
  readonly cluster: CoreCluster;
  readonly admin: PemPair & { spiffeId: string };
  readonly broker: PemPair & { spiffeId: string };
  /** The server certificate the nodes (and leaf nodes) show. */
  readonly server: PemPair;
  /** Connects as `who` to the given nodes (default: all). */
  connect(who: PemPair, urls?: readonly string[], name?: string): Promise<NatsConnection>;
  /** SPIFFE IDs the core's users are made from (writeAuth(natsUsersConfig(users)) after a change). */
  readonly users: string[];
  dispose(): Promise<void>;
}

export const ADMIN_ID = `spiffe://${TRUST_DOMAIN}/xbus/admin/ops`;
export const BROKER_ID = `spiffe://${TRUST_DOMAIN}/xbus/broker/b1`;
export const ROUTE_ID = `spiffe://${TRUST_DOMAIN}/xbus/route/core`;

export async function startTestCluster(o: { size?: number; users?: string[] } = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "xbus-cluster-"));
  const ids = openIdentities(dir);
  const server = ids.issueIdentity("nats-server", { role: "server", ...LOOPBACK });
  const route = ids.issueIdentity("nats-route", { role: "route", spiffeId: ROUTE_ID, ...LOOPBACK });
  const admin = { ...ids.issueIdentity("admin", { role: "admin", spiffeId: ADMIN_ID }), spiffeId: ADMIN_ID };
  const broker = {
    ...ids.issueIdentity("broker", { role: "broker", spiffeId: BROKER_ID, ...LOOPBACK }),
    spiffeId: BROKER_ID,
  };
  const users = [ADMIN_ID, BROKER_ID, ...(o.users ?? [])];
  const files = (p: PemPair) => ({ certFile: p.certPath, keyFile: p.keyPath, caFile: ids.caPath });
  let cluster: CoreCluster;
  try {
    cluster = await startCoreCluster({
      size: o.size ?? 3,
      tls: files(server),
      routeTls: files(route),
      routeUser: ROUTE_ID,
      auth: natsUsersConfig(users),
      verbose: process.env.XBUS_TEST_LOGS === "1",
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const connectAs = (who: PemPair, urls: readonly string[] = cluster.urls, name?: string) =>
    connect(
      natsClientOptions({
        servers: [...urls],
        tls: natsTlsInForce({ ca: ids.trustBundle, cert: who.cert, key: who.key }),
        ...(name ? { name } : {}),
      }),
    );
  return {
    dir,
    ids,
    cluster,
    admin,
    broker,
    server,
    users,
    connect: connectAs,
    async dispose() {
      await cluster.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { waitForJetStream } from "../../stack/index.js";

/**
 * `fn` until it resolves: a cluster that just lost or regained a node answers some requests with a
 * timeout while it elects leaders and clients reconnect. Throws fn's last error after `timeoutMs`.
 */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
