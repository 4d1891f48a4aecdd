import { generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { createLogger } from "../core/index.js";
import {
  type ClusterStack,
  DEV_LOG,
  freePorts,
  type NatsServer,
  startClusterStack,
  TRUST_DOMAIN,
  tokenHash,
} from "../stack/index.js";
import { type ReviewClient, reviewClient } from "../verifier/index.js";
import {
  CONNECTORS_PER_AGENCY,
  connectionNames,
  FAULT_POLICIES,
  faultConsumers,
  leafNames,
  providerPool,
  revokeIn,
} from "./parts.js";
import type { ProviderConfig } from "./protocol.js";
import { ServerProcess } from "./server-process.js";
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
  "broker-kill",
  "log-service-kill",
]);

/** The log services' names: each an `xbus log serve` process, the first started signs first. */
const LOG_SERVICES = ["log-a", "log-b"] as const;
const BROKER_IDS = ["broker-1", "broker-2"] as const;
/** The lines a log service logs when its part changes (broker/indexer/head-publisher.ts). */
const SIGNING = "signing tree heads (lease taken)";
const STANDING_BY = "standing by: another instance signs";
/** How long a CRL written is waited for in the brokers' logs ("CRL in force"); they poll the file every 500 ms. */
const CRL_WAIT_MS = 10_000;

interface Servers {
  brokers: Map<string, { proc: ServerProcess; address: string; publicKey: KeyObject; publicKeyPath: string }>;
  logServices: Map<string, { proc: ServerProcess; reviewUrl: string }>;
  token: string;
  stopAll(): Promise<void>;
}

/**
 * The two brokers (`xbus broker`, no log key) and the two log services (`xbus log serve`, each with its
 * own index; the first started takes the signer's lease, the other stands by) in processes of their
 * own, on ports chosen here once: a process started again after a SIGKILL listens where it did, so the
 * load's channels and the harness's review client find it again. Configured from the stack's files as
 * an operator would configure them (deploy/): the broker identity, the CRL, the log's id, secret and key.
 */
async function startServers(stack: ClusterStack, dir: string, logFd: number): Promise<Servers> {
  const own = join(dir, "processes");
  mkdirSync(own, { recursive: true, mode: 0o700 });
  const [reviewA, reviewB, brokerA, brokerB] = await freePorts(4);
  const token = randomBytes(24).toString("base64url");
  const tokens = join(own, "review-tokens");
  writeFileSync(tokens, `${tokenHash(token)}\n`, { mode: 0o600 });
  const nats = [...stack.core.urls];
  const log = { id: stack.logFiles.log_id, secret: stack.logSecretPath };
  const servers: Servers = { brokers: new Map(), logServices: new Map(), token, stopAll: async () => {} };
  const all = (): ServerProcess[] => [
    ...[...servers.brokers.values()].map((b) => b.proc),
    ...[...servers.logServices.values()].map((l) => l.proc),
  ];
  servers.stopAll = async () => {
    await Promise.all(all().map((p) => p.stop()));
  };
  const writeConfig = (name: string, config: unknown) => {
    const path = join(own, `${name}.json`);
    writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
    return path;
  };
  try {
    for (const [i, name] of LOG_SERVICES.entries()) {
      const port = [reviewA, reviewB][i];
      // Its own identity on NATS (role `log`): it may read the log and swap the signed head, not append.
      const cert = stack.issueIdentity(name, {
        role: "log",
        spiffeId: DEV_LOG,
        commonName: `xbus ${name} (faults)`,
      });
      const config = writeConfig(name, {
        trust_domain: TRUST_DOMAIN,
        nats,
        tls: { ca: stack.caPath, cert: cert.certPath, key: cert.keyPath },
        log: { ...log, key: stack.logFiles.key, index: join(own, `${name}-index.sqlite`) },
        review: { listen: `127.0.0.1:${port}`, token_hashes: tokens },
      });
      const proc = new ServerProcess(`log service ${name}`, ["log", "serve", "--config", config], logFd);
      servers.logServices.set(name, { proc, reviewUrl: `http://127.0.0.1:${port}` });
      await proc.start();
    }
    for (const [i, id] of BROKER_IDS.entries()) {
      const port = [brokerA, brokerB][i];
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      const keyPath = join(own, `${id}-signing.pem`);
      writeFileSync(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
      const publicKeyPath = join(own, `${id}-signing.pub.pem`);
      writeFileSync(publicKeyPath, publicKey.export({ type: "spki", format: "pem" }));
      const config = writeConfig(id, {
        trust_domain: TRUST_DOMAIN,
        broker_id: id,
        listen: `localhost:${port}`,
        nats,
        replicas: Math.min(3, stack.core.nodes.length),
        tls: { ca: stack.caPath, cert: stack.brokerCert.certPath, key: stack.brokerCert.keyPath },
        crl: stack.crlPath,
        signing_key: keyPath,
        // No log.key, no log.index, no review: the log services run elsewhere.
        log,
        policies: FAULT_POLICIES,
      });
      const proc = new ServerProcess(`broker ${id}`, ["broker", "--config", config], logFd);
      servers.brokers.set(id, { proc, address: `localhost:${port}`, publicKey, publicKeyPath });
      await proc.start();
    }
  } catch (err) {
    await servers.stopAll();
    throw err;
  }
  return servers;
}

/**
 * A review client over both log services' review APIs: it asks the one that answered last, and the
 * other when that one cannot be reached (it was SIGKILLed). Both serve the signed head from the lock.
 */
function failoverReview(urls: readonly string[], token: string): ReviewClient {
  const clients = urls.map((u) => reviewClient(u, token));
  let at = 0;
  return {
    async get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
      for (let tried = 0; ; tried++) {
        const client = clients[at % clients.length];
        if (!client) throw new Error("no review API to ask");
        try {
          return await client.get<T>(path, query);
        } catch (err) {
          const unreachable = (err as Error).message.startsWith("cannot reach the review API");
          if (!unreachable || tried + 1 >= clients.length) throw err;
          at++;
        }
      }
    },
  };
}

/** The part a log service said it took last in this incarnation: signing, standing by, or none yet. */
function roleOf(proc: ServerProcess): "active" | "standby" | undefined {
  if (!proc.running) return undefined;
  const said = proc
    .lines()
    .filter((l) => l.msg === SIGNING || l.msg === STANDING_BY)
    .at(-1);
  return said === undefined ? undefined : said.msg === SIGNING ? "active" : "standby";
}

/**
 * The federation's topology as `xbus dev --cluster` runs it (stack/dev-cluster.ts): three core
 * nats-servers clustered over mutual-TLS routes with the log at R3, a leaf nats-server per agency,
 * two brokers, the signing log service and a standby. Here the brokers and the log services are
 * `xbus broker` and `xbus log serve` processes of their own (startServers), so a row can SIGKILL one
 * and start it again on its port; the stack's own broker stays in this process, idle (no load is sent
 * to it) and without a log service. The agencies' connectors run outside it as on the single-node
 * target: two per agency, each a process of its own (faults/provider.ts), but connected to their
 * agency's leaf node with their own certificates, as an agency's would be. The load is spread over
 * both brokers, so receipts come signed by either; the audit checks each with its broker's key.
 */
export async function startCluster(o: TargetOptions): Promise<Target> {
  if (o.logMaxBytes !== undefined) throw new MissingCapabilityError("cluster", "sized-log");
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
      brokers: 1,
      logService: "elsewhere",
    });
  } catch (err) {
    closeSync(logFd);
    throw err;
  }
  let servers: Servers;
  try {
    servers = await startServers(stack, o.dir, logFd);
  } catch (err) {
    await stack.close();
    closeSync(logFd);
    throw err;
  }
  const brokerPublicKeys = new Map([...servers.brokers].map(([id, b]) => [id, b.publicKey]));
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
      brokerKeyPaths: [...servers.brokers.values()].map((b) => b.publicKeyPath),
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
    await servers.stopAll();
    await stack.close();
    closeSync(logFd);
    throw err;
  }
  const adminNc = admin;
  const brokerOf = (id: string) => {
    const b = servers.brokers.get(id);
    if (!b)
      throw new Error(`no broker ${JSON.stringify(id)} (brokers: ${[...servers.brokers.keys()].join(", ")})`);
    return b.proc;
  };
  const logServiceOf = (name: string) => {
    const l = servers.logServices.get(name);
    if (!l)
      throw new Error(
        `no log service ${JSON.stringify(name)} (${[...servers.logServices.keys()].join(", ")})`,
      );
    return l.proc;
  };

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
    async attachedByNode() {
      const out: Record<string, string[]> = {};
      for (const [name, n] of nodes)
        if (n.running && n.monitorUrl && !frozen.has(name))
          out[name] = [
            ...(await connectionNames(n.monitorUrl)).filter((c) => !c.startsWith("xbus-faults-admin")),
            ...(await leafNames(n.monitorUrl)).map((l) => `leaf ${l}`),
          ].sort();
      return out;
    },
    killLeaf: (agency) => leafOf(agency).kill(),
    restartLeaf: (agency) => leafOf(agency).restart(),
    brokerIds: [...servers.brokers.keys()],
    killBroker: (id) => brokerOf(id).kill(),
    async restartBroker(id) {
      const b = brokerOf(id);
      if (!b.running) await b.start();
    },
    logServices: [...servers.logServices.keys()],
    async signer(timeoutMs) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        for (const [name, l] of servers.logServices) if (roleOf(l.proc) === "active") return name;
        if (Date.now() > until) throw new Error(`no log service said it signs within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async signerTakeover(not, since, timeoutMs) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        for (const [name, l] of servers.logServices) {
          if (name === not || !l.proc.running) continue;
          const took = l.proc.lines().find((x) => x.msg === SIGNING && Date.parse(x.time) >= since);
          if (took) return { name, at: Date.parse(took.time) };
        }
        if (Date.now() > until) return undefined;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    killLogService: (name) => logServiceOf(name).kill(),
    async restartLogService(name) {
      const l = logServiceOf(name);
      if (!l.running) await l.start();
    },
    logServiceRole: (name) => roleOf(logServiceOf(name)),
  };
  const cannot = (what: Capability) => async () => {
    throw new MissingCapabilityError("cluster", what);
  };
  return {
    name: "cluster",
    capabilities: CLUSTER_CAPABILITIES,
    brokers: [...servers.brokers.values()].map((b) => b.address),
    ca: stack.ca.certPem,
    consumers,
    review: failoverReview(
      [...servers.logServices.values()].map((l) => l.reviewUrl),
      servers.token,
    ),
    logId: stack.logFiles.log_id,
    logPublicKey: stack.logPublicKey.export({ type: "spki", format: "der" }).subarray(-32).toString("base64"),
    brokerPublicKeys,
    agencies,
    connectorsPerAgency: CONNECTORS_PER_AGENCY,
    cluster,
    processes() {
      const out: TargetProcess[] = [
        {
          name: "stack (harness: CA, idle broker, admin)",
          pid: process.pid,
          natsNames: ["xbus-broker-dev", "xbus-faults-admin"],
        },
      ];
      for (const [id, b] of servers.brokers)
        if (b.proc.pid !== undefined)
          out.push({ name: `broker ${id}`, pid: b.proc.pid, natsNames: [`xbus-broker-${id}`] });
      // Both log services name their connections alike (xbus-log-service, xbus-log-indexer): not counted apart.
      for (const [name, l] of servers.logServices)
        if (l.proc.pid !== undefined) out.push({ name: `log service ${name}`, pid: l.proc.pid });
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
    growLog: cannot("sized-log"),
    async revokeConsumer(name) {
      // The broker processes poll the CRL file: the revocation is in force once each has logged the new one.
      const marks = [...servers.brokers.values()].map((b) => ({ b, mark: b.proc.mark() }));
      revokeIn(stack, serials, name);
      const until = Date.now() + CRL_WAIT_MS;
      for (const { b, mark } of marks) {
        while (b.proc.running && !b.proc.lines(mark).some((l) => l.msg === "CRL in force")) {
          if (Date.now() > until)
            throw new Error(`${b.proc.name} did not take the new CRL within ${CRL_WAIT_MS} ms`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
    async close() {
      for (const name of frozen) await cluster.thawCoreNode(name).catch(() => {});
      await providers.stopAll();
      await adminNc.close();
      await servers.stopAll();
      await stack.close();
      closeSync(logFd);
    },
  };
}
