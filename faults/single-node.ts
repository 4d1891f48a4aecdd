import { type ChildProcess, fork } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Child } from "../bench/child-process.js";
import { createLogger } from "../core/index.js";
import {
  DEV_CONSUMER,
  DEV_LICENSING,
  DEV_PORTAL,
  NatsServer,
  type Stack,
  startStack,
} from "../stack/index.js";
import { reviewClient } from "../verifier/index.js";
import type { AdapterFault, ProviderConfig, ProviderReply } from "./protocol.js";
import type { Capability, Target, TargetOptions, TargetProcess } from "./target.js";

/** The log stream's name and subject (broker/log/jetstream-log.ts), for the small stream made up front. */
const LOG_STREAM = "XBUS_LOG";
const LOG_SUBJECT = "xbus.log.exchanges";
const CONNECTORS_PER_AGENCY = 2;
const PROVIDER_READY_MS = 60_000;

/** faults/policies, found from the sources (tsx) and from the compiled dist/faults alike. */
function findPolicies(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const candidate = join(dir, "faults", "policies");
    if (existsSync(join(candidate, "faults.yaml"))) return candidate;
  }
  throw new Error(`faults/policies/faults.yaml not found above ${import.meta.dirname}`);
}
const FAULT_POLICIES = findPolicies();

/** Forks one of the harness's scripts (a sibling of this file): compiled `.js`, or `.ts` through tsx in tests. */
export function forkScript(name: string, logFd: number | "inherit"): ChildProcess {
  const ts = import.meta.filename.endsWith(".ts");
  return fork(join(import.meta.dirname, `${name}${ts ? ".ts" : ".js"}`), [], {
    execArgv: ts ? ["--import", "tsx"] : [],
    serialization: "advanced",
    stdio: ["ignore", logFd, logFd, "ipc"],
  });
}

/**
 * The bus as `xbus dev` runs it (stack/: one nats-server with mutual TLS, one
 * broker with the exchange log, its indexer and the review API, in this
 * process), with the four example agencies' connectors outside it: two per
 * agency, each in its own process (faults/provider.ts) in the agency's queue
 * group. With `logMaxBytes`, the harness starts nats-server itself (no mutual
 * TLS: the stack configures only a server it spawns) and creates the log
 * stream that small before the broker would create it.
 */
export async function startSingleNode(o: TargetOptions): Promise<Target> {
  const logFd = openSync(o.logFile, "a");
  const logger = createLogger({ faults: "stack" }, "warn", (line) => writeSync(logFd, line));
  let own: NatsServer | undefined;
  if (o.logMaxBytes !== undefined) {
    mkdirSync(join(o.dir, "nats"), { recursive: true });
    own = await NatsServer.start({ dir: join(o.dir, "nats"), monitor: true });
    await createSmallLog(own.url, o.logMaxBytes);
  }
  let stack: Stack;
  try {
    stack = await startStack({
      dir: o.dir,
      logger,
      connectors: "elsewhere",
      policiesDir: FAULT_POLICIES,
      natsMonitor: true,
      ...(own ? { natsUrl: own.url } : {}),
    });
  } catch (err) {
    await own?.dispose();
    closeSync(logFd);
    throw err;
  }
  const nats = own ?? stack.natsServer;
  if (!nats) throw new Error("the stack spawned no nats-server");
  const monitorUrl = nats.monitorUrl;
  // A second certificate of the licensing system, so that one can be revoked while the other carries on.
  const revocable = stack.issueIdentity("consumer-licensing-b", {
    role: "system",
    spiffeId: DEV_LICENSING,
    commonName: "rsta licensing, second certificate (faults)",
    renew: true,
  });
  const consumerOf = (spiffeId: string) => {
    const c = stack.consumers.find((x) => x.spiffeId === spiffeId);
    if (!c) throw new Error(`the stack issued no certificate for ${spiffeId}`);
    return c;
  };
  const consumers = [
    { name: "scholarships", ...pick(consumerOf(DEV_CONSUMER)) },
    { name: "licensing", ...pick(consumerOf(DEV_LICENSING)) },
    { name: "portal", ...pick(consumerOf(DEV_PORTAL)) },
    { name: "licensing-b", spiffeId: DEV_LICENSING, cert: revocable.cert, key: revocable.key },
  ];
  const serials = new Map([["licensing-b", revocable.serial]]);

  const agencies = stack.adapters.map((a) => a.agency);
  const providers = new Map<string, Child>();
  const configOf = (agency: string, instance: number): ProviderConfig => {
    const a = stack.adapters.find((x) => x.agency === agency);
    if (!a) throw new Error(`no agency ${agency} in this stack`);
    return {
      agency,
      instance: `faults-${instance}`,
      natsUrl: stack.nats.url,
      natsTls: stack.natsAuth,
      caPath: stack.caPath,
      brokerKeyPath: join(stack.dir, "certs", "broker-signing.pub.pem"),
      connector: { certPath: a.client.certPath, keyPath: a.client.keyPath },
    };
  };
  const startConnector = async (agency: string, instance: number) => {
    const key = `${agency}-${instance}`;
    if (providers.get(key)?.proc.exitCode === null && providers.get(key)?.proc.signalCode === null) return;
    const child = new Child(`connector ${key}`, forkScript("provider", logFd));
    const ready = await child.ask<ProviderReply>(
      { type: "start", config: configOf(agency, instance) },
      PROVIDER_READY_MS,
    );
    if (ready.type !== "ready") {
      await child.stop();
      throw new Error(
        `connector ${key} did not start: ${ready.type === "failed" ? ready.message : ready.type}`,
      );
    }
    providers.set(key, child);
  };
  const live = () =>
    [...providers.entries()].filter(([, c]) => c.proc.exitCode === null && c.proc.signalCode === null);
  try {
    for (const agency of agencies)
      for (let i = 0; i < CONNECTORS_PER_AGENCY; i++) await startConnector(agency, i);
  } catch (err) {
    for (const [, c] of live()) await c.stop();
    await stack.close();
    await own?.dispose();
    closeSync(logFd);
    throw err;
  }
  if (!stack.review) throw new Error("the stack runs no review API");
  const capabilities = new Set<Capability>(["nats-kill", "connector-kill", "adapter-fault", "revoke"]);
  if (own) capabilities.add("small-log");
  return {
    name: own ? "single-node, small log" : "single-node",
    capabilities,
    brokers: [stack.brokerAddress],
    ca: stack.ca.certPem,
    consumers,
    review: reviewClient(stack.review.url, stack.review.token),
    logId: stack.logFiles.log_id,
    logPublicKey: stack.logPublicKey.export({ type: "spki", format: "der" }).subarray(-32).toString("base64"),
    brokerPublicKey: stack.brokerPublicKey,
    agencies,
    connectorsPerAgency: CONNECTORS_PER_AGENCY,
    processes() {
      const out: TargetProcess[] = [
        { name: "broker (harness)", pid: process.pid, natsNames: ["xbus-broker", "xbus-indexer"] },
      ];
      if (nats.pid !== undefined) out.push({ name: "nats-server", pid: nats.pid });
      for (const [key, c] of live()) {
        const [agency, instance] = key.split("-");
        if (c.proc.pid !== undefined)
          out.push({
            name: `connector ${key}`,
            pid: c.proc.pid,
            natsNames: [`xbus-connector-${agency}-faults-${instance}`],
          });
      }
      return out;
    },
    async natsConnectionNames() {
      if (!monitorUrl) return [];
      const res = await fetch(`${monitorUrl}/connz?limit=4096`);
      return (
        ((await res.json()) as { connections?: { name?: string }[] }).connections?.map((c) => c.name ?? "") ??
        []
      );
    },
    killNats: () => nats.kill(),
    restartNats: () => nats.restart(),
    async killConnector(agency, instance) {
      const c = providers.get(`${agency}-${instance}`);
      if (!c || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
      const gone = new Promise<void>((r) => c.proc.once("exit", () => r()));
      c.proc.kill("SIGKILL");
      await gone;
    },
    startConnector,
    async adapterFault(agency: string, fault: AdapterFault) {
      for (const [key, c] of live())
        if (key.startsWith(`${agency}-`)) {
          const r = await c.ask<ProviderReply>({ type: "fault", fault }, 10_000);
          if (r.type !== "ok") throw new Error(`connector ${key} did not take the fault`);
        }
    },
    async growLog(maxBytes) {
      if (!own) throw new Error("only a small-log target's stream can grow");
      const nc = await connect({ servers: own.url });
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info(LOG_STREAM);
        await jsm.streams.update(LOG_STREAM, { ...info.config, max_bytes: maxBytes });
      } finally {
        await nc.close();
      }
    },
    async revokeConsumer(name) {
      const serial = serials.get(name);
      if (!serial) throw new Error(`consumer ${name} has no revocable certificate here`);
      stack.caDir.revoke({ serial }, "keyCompromise");
      stack.reloadCrl();
    },
    async close() {
      for (const [, c] of live()) await c.stop();
      await stack.close();
      await own?.dispose();
      closeSync(logFd);
    },
  };
}

function pick(c: { spiffeId: string; cert: string; key: string }) {
  return { spiffeId: c.spiffeId, cert: c.cert, key: c.key };
}

/** The log stream as the broker makes it (ensureLogStream), but holding at most `maxBytes`. */
async function createSmallLog(url: string, maxBytes: number): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: LOG_STREAM,
      subjects: [LOG_SUBJECT],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.New,
      num_replicas: 1,
      deny_delete: true,
      deny_purge: true,
      allow_rollup_hdrs: false,
      duplicate_window: 120_000_000_000,
      max_bytes: maxBytes,
    });
  } finally {
    await nc.close();
  }
}
