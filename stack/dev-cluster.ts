import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createPopulation } from "../adapters/examples/population.js";
import { devConnectorId, exampleAgencies } from "./agencies.js";
import {
  type ExtraBroker,
  type ExtraLogService,
  type Stack,
  type StackOptions,
  startStack,
} from "./dev-stack.js";
import {
  DEV_ADMIN,
  DEV_BROKER,
  DEV_LOG,
  LOOPBACK,
  openIdentities,
  type PemPair,
  TRUST_DOMAIN,
} from "./identities.js";
import { natsUsersConfig } from "./nats/nats-auth.js";
import { type CoreCluster, startCoreCluster, startLeafNode } from "./nats/nats-cluster.js";
import type { NatsServer } from "./nats/nats-server.js";
import { makePrivateDir } from "./private-files.js";

/**
 * The federation's topology on one machine (`xbus dev --cluster`, README "Federation topology"): a
 * core of nats-servers clustered over mutual-TLS routes with the log at R3, a leaf nats-server per
 * agency that dials out to the core and carries only that agency's subjects (its connector connects
 * there), two brokers (the stack's and one more, each with its own route-signing key), and two log
 * services: the stack's, which signs, and a standby with its own index that takes over when the
 * signer's lease lapses. Every nats-server's config is deploy/nats's example with loopback ports.
 */
export interface ClusterStackOptions extends Omit<StackOptions, "natsUrl" | "natsCluster" | "agencyNats"> {
  /** Core nodes; default 3 (the log and the consent bucket are at R3, or fewer when the core is smaller). */
  coreSize?: number;
  /** Brokers in all, the stack's first; default 2. */
  brokers?: number;
}

export interface ClusterStack extends Stack {
  readonly core: CoreCluster;
  /** Per agency, its leaf nats-server. */
  readonly leaves: ReadonlyMap<string, NatsServer>;
  /** Every broker's address, the stack's own first. */
  readonly brokerAddresses: readonly string[];
  /** The brokers started beside the stack's own. */
  readonly extraBrokers: readonly ExtraBroker[];
  /** The standby log service; none when the log services run elsewhere (ClusterStackOptions.logService). */
  readonly standby: ExtraLogService | undefined;
  /** Every broker's route-signing public key file (PEM), the stack's own first: what connectors elsewhere trust. */
  readonly brokerKeyPaths: readonly string[];
}

/** The route certificate's SPIFFE ID: every core node presents it to the others. */
export const DEV_ROUTE = `spiffe://${TRUST_DOMAIN}/xbus/route/dev`;
/** An agency's leaf node's SPIFFE ID towards the core. */
export const devLeafId = (agency: string) => `spiffe://${TRUST_DOMAIN}/agency/${agency}/leaf/dev`;

export async function startClusterStack(options: ClusterStackOptions): Promise<ClusterStack> {
  const dir = resolve(options.dir);
  const coreSize = options.coreSize ?? 3;
  const brokers = options.brokers ?? 2;
  if (!Number.isInteger(brokers) || brokers < 1)
    throw new Error(`--brokers is a whole number ≥ 1, not ${brokers}`);
  makePrivateDir(dir);
  const population = options.population ?? createPopulation();
  const agencies = (options.agencies ?? exampleAgencies)(population).map((d) => d.agency);
  const ids = openIdentities(dir);
  const files = (p: PemPair) => ({ certFile: p.certPath, keyFile: p.keyPath, caFile: ids.caPath });
  const server = ids.issueIdentity("nats", { role: "server", commonName: "nats-server (dev)", ...LOOPBACK });
  const route = ids.issueIdentity("nats-route", { role: "route", spiffeId: DEV_ROUTE, ...LOOPBACK });
  const core = await startCoreCluster({
    size: coreSize,
    tls: files(server),
    routeTls: files(route),
    routeUser: DEV_ROUTE,
    ...(options.natsMonitor ? { monitor: true } : {}),
    auth: natsUsersConfig([DEV_ADMIN, DEV_BROKER, DEV_LOG, ...agencies.map(devLeafId)]),
  });
  const leaves = new Map<string, NatsServer>();
  const stopAll = async () => {
    await Promise.all([...leaves.values()].map((l) => l.dispose()));
    await core.dispose();
  };
  let stack: Stack;
  const extraBrokers: ExtraBroker[] = [];
  const keys = Array.from({ length: brokers - 1 }, () => generateKeyPairSync("ed25519"));
  try {
    for (const agency of agencies) {
      const leafCert = ids.issueIdentity(`leaf-${agency}`, { role: "leaf", spiffeId: devLeafId(agency) });
      leaves.set(
        agency,
        await startLeafNode({
          agency,
          tls: files(server),
          leafTls: files(leafCert),
          core: core.leafUrls,
          auth: natsUsersConfig([devConnectorId(agency)]),
        }),
      );
    }
    stack = await startStack({
      ...options,
      dir,
      population,
      // Each run's core starts with empty JetStream stores (temp folders): a new log, new log secrets.
      natsCluster: { urls: core.urls, replicas: Math.min(3, coreSize), fresh: true },
      // The leaf's server certificate names localhost, and nats.js checks it against the URL's host.
      agencyNats: new Map([...leaves].map(([agency, leaf]) => [agency, [leaf.tlsUrl]])),
      otherBrokerKeys: [...(options.otherBrokerKeys ?? []), ...keys.map((k) => k.publicKey)],
    });
  } catch (err) {
    await stopAll();
    throw err;
  }
  try {
    for (const [i, k] of keys.entries())
      extraBrokers.push(await stack.addBroker({ brokerId: `dev-${i + 2}`, signingKey: k.privateKey }));
    // Log services elsewhere (`xbus log serve` processes, the fault harness's): no standby here either.
    const standby = options.logService === "elsewhere" ? undefined : await stack.addLogService("standby");
    const brokerKeyPaths = [join(ids.certDir, "broker-signing.pub.pem")];
    for (const [i, k] of keys.entries()) {
      const path = join(ids.certDir, `broker-signing-${extraBrokers[i]?.brokerId}.pub.pem`);
      writeFileSync(path, k.publicKey.export({ type: "spki", format: "pem" }));
      brokerKeyPaths.push(path);
    }
    return {
      ...stack,
      core,
      leaves,
      brokerAddresses: [stack.brokerAddress, ...extraBrokers.map((b) => b.address)],
      extraBrokers,
      standby,
      brokerKeyPaths,
      async close() {
        await stack.close();
        await stopAll();
      },
    };
  } catch (err) {
    await stack.close();
    await stopAll();
    throw err;
  }
}
