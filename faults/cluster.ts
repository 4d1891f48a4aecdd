import { createPublicKey } from "node:crypto";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { createLogger } from "../core/index.js";
import { type ClusterStack, type NatsServer, startClusterStack } from "../stack/index.js";
import { reviewClient } from "../verifier/index.js";
import {
  CONNECTORS_PER_AGENCY,
  connectionNames,
  FAULT_POLICIES,
  faultConsumers,
  providerPool,
  revokeIn,
} from "./parts.js";
import type { ProviderConfig } from "./protocol.js";
import {
  type Capability,
  type ClusterFaults,
  MissingCapabilityError,
  type Target,
  type TargetOptions,
  type TargetProcess,
} from "./target.js";

const LOG_STREAM = "XBUS_LOG";
/** How long logStreamNode waits for the log's RAFT group to have a leader (and a current follower). */
const LEADER_WAIT_MS = 10_000;

/** Everything the cluster target can have done to it. */
export const CLUSTER_CAPABILITIES: ReadonlySet<Capability> = new Set([
  "connector-kill",
  "adapter-fault",
  "revoke",
  "core-kill",
  "core-freeze",
  "leaf-kill",
]);

/**
 * The federation's topology as `xbus dev --cluster` runs it (stack/dev-cluster.ts): three core
 * nats-servers clustered over mutual-TLS routes with the log at R3, a leaf nats-server per agency,
 * two brokers, the signing log service and a standby (brokers and log services in this process, each
 * on its own NATS connection). The agencies' connectors run outside it as on the single-node target:
 * two per agency, each a process of its own (faults/provider.ts), but connected to their agency's leaf
 * node with their own certificates, as an agency's would be. The load is spread over both brokers, so
 * receipts come signed by either; the audit checks each with its broker's key.
 */
export async function startCluster(o: TargetOptions): Promise<Target> {
  if (o.logMaxBytes !== undefined) throw new MissingCapabilityError("cluster", "small-log");
  const logFd = openSync(o.logFile, "a");
  const logger = createLogger({ faults: "stack" }, "warn", (line) => writeSync(logFd, line));
  let stack: ClusterStack;
  try {
    stack = await startClusterStack({
      dir: o.dir,
      logger,
      connectors: "elsewhere",
      policiesDir: FAULT_POLICIES,
      natsMonitor: true,
    });
  } catch (err) {
    closeSync(logFd);
    throw err;
  }
  // The receipt-signing keys by broker id, from the files the stack wrote: its own broker's first.
  const brokerIds = ["dev", ...stack.extraBrokers.map((b) => b.brokerId)];
  const brokerPublicKeys = new Map(
    stack.brokerKeyPaths.map((path, i) => [brokerIds[i] ?? path, createPublicKey(readFileSync(path))]),
  );
  const { consumers, serials } = faultConsumers(stack);
  const agencies = stack.adapters.map((a) => a.agency);
  const leafOf = (agency: string): NatsServer => {
    const leaf = stack.leaves.get(agency);
    if (!leaf) throw new Error(`agency ${agency} has no leaf node in this cluster`);
    return leaf;
  };
  const configOf = (agency: string, instance: number): ProviderConfig => {
    const a = stack.adapters.find((x) => x.agency === agency);
    if (!a) throw new Error(`no agency ${agency} in this stack`);
    return {
      agency,
      instance: `faults-${instance}`,
      natsUrl: leafOf(agency).tlsUrl,
      natsTls: true,
      caPath: stack.caPath,
      brokerKeyPaths: [...stack.brokerKeyPaths],
      connector: { certPath: a.client.certPath, keyPath: a.client.keyPath },
    };
  };
  const providers = providerPool(configOf, logFd);
  let admin: NatsConnection | undefined;
  try {
    await providers.startAll(agencies);
    if (!stack.adminCert) throw new Error("the cluster stack issued no admin identity");
    admin = await stack.natsConnect(stack.adminCert, "xbus-faults-admin");
  } catch (err) {
    await providers.stopAll();
    await admin?.close();
    await stack.close();
    closeSync(logFd);
    throw err;
  }
  const adminNc = admin;
  if (!stack.review) throw new Error("the stack runs no review API");

  const nodes = new Map(stack.core.nodes.map((n, i) => [`xbus-n${i + 1}`, n]));
  const nodeOf = (name: string): NatsServer => {
    const n = nodes.get(name);
    if (!n) throw new Error(`no core node ${JSON.stringify(name)} (nodes: ${[...nodes.keys()].join(", ")})`);
    return n;
  };
  const frozen = new Set<string>();
  const signal = (name: string, sig: "SIGSTOP" | "SIGCONT") => {
    const pid = nodeOf(name).pid;
    if (pid === undefined) throw new Error(`core node ${name} is not running`);
    process.kill(pid, sig);
  };
  const cluster: ClusterFaults = {
    coreNodes: [...nodes.keys()],
    async logStreamNode(role) {
      const until = Date.now() + LEADER_WAIT_MS;
      let last = "no answer";
      for (;;) {
        try {
          const jsm = await jetstreamManager(adminNc, { timeout: 2000 });
          const info = (await jsm.streams.info(LOG_STREAM)).cluster;
          const leader = info?.leader;
          const followers = (info?.replicas ?? [])
            .filter((r) => r.current && !r.offline && r.name !== leader)
            .map((r) => r.name);
          let found: string | undefined;
          if (role === "leader") found = leader;
          else {
            const consumers = await cluster.logConsumersByNode();
            const busiest = Object.entries(consumers).sort((a, b) => b[1] - a[1])[0]?.[0];
            found = role === "indexer" ? busiest : (followers.find((f) => !consumers[f]) ?? followers[0]);
          }
          if (found && nodes.has(found)) return found;
          last = `leader ${leader ?? "none"}, replicas ${JSON.stringify(info?.replicas ?? [])}`;
        } catch (err) {
          last = (err as Error).message;
        }
        if (Date.now() > until)
          throw new Error(`the ${LOG_STREAM} stream has no ${role} after ${LEADER_WAIT_MS} ms (${last})`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async logConsumersByNode() {
      const jsm = await jetstreamManager(adminNc, { timeout: 2000 });
      const out: Record<string, number> = {};
      for await (const c of jsm.consumers.list(LOG_STREAM)) {
        const at = c.cluster?.leader ?? "none";
        out[at] = (out[at] ?? 0) + 1;
      }
      return out;
    },
    killCoreNode: (name) => nodeOf(name).kill(),
    restartCoreNode: (name) => nodeOf(name).restart(),
    async freezeCoreNode(name) {
      signal(name, "SIGSTOP");
      frozen.add(name);
    },
    async thawCoreNode(name) {
      signal(name, "SIGCONT");
      frozen.delete(name);
    },
    killLeaf: (agency) => leafOf(agency).kill(),
    restartLeaf: (agency) => leafOf(agency).restart(),
  };
  const cannot = (what: Capability) => async () => {
    throw new MissingCapabilityError("cluster", what);
  };
  return {
    name: "cluster",
    capabilities: CLUSTER_CAPABILITIES,
    brokers: [...stack.brokerAddresses],
    ca: stack.ca.certPem,
    consumers,
    review: reviewClient(stack.review.url, stack.review.token),
    logId: stack.logFiles.log_id,
    logPublicKey: stack.logPublicKey.export({ type: "spki", format: "der" }).subarray(-32).toString("base64"),
    brokerPublicKeys,
    agencies,
    connectorsPerAgency: CONNECTORS_PER_AGENCY,
    cluster,
    processes() {
      const out: TargetProcess[] = [
        {
          name: "brokers and log services (harness)",
          pid: process.pid,
          natsNames: ["xbus-broker", "xbus-indexer", "xbus-log", "xbus-faults-admin"],
        },
      ];
      for (const [name, n] of nodes)
        if (n.pid !== undefined) out.push({ name: `nats-server ${name}`, pid: n.pid });
      for (const [agency, leaf] of stack.leaves)
        if (leaf.pid !== undefined) out.push({ name: `leaf nats-server ${agency}`, pid: leaf.pid });
      out.push(...providers.processes());
      return out;
    },
    async natsConnectionNames() {
      // The core's clients (brokers, log services, indexers); the connectors are on their leaves.
      const names: string[] = [];
      for (const [name, n] of nodes)
        if (n.running && n.monitorUrl && !frozen.has(name))
          names.push(...(await connectionNames(n.monitorUrl)));
      return names;
    },
    killNats: cannot("nats-kill"),
    restartNats: cannot("nats-kill"),
    killConnector: providers.kill,
    startConnector: providers.start,
    adapterFault: providers.fault,
    growLog: cannot("small-log"),
    revokeConsumer: async (name) => revokeIn(stack, serials, name),
    async close() {
      for (const name of frozen) await cluster.thawCoreNode(name).catch(() => {});
      await providers.stopAll();
      await adminNc.close();
      await stack.close();
      closeSync(logFd);
    },
  };
}
