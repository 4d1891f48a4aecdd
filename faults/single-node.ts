import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { createLogger } from "../core/index.js";
import { type Stack, startStack } from "../stack/index.js";
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
import type { Capability, Target, TargetOptions, TargetProcess } from "./target.js";

/** The log stream's name (broker/log/jetstream-log.ts), for the small log's repair. */
const LOG_STREAM = "XBUS_LOG";

/**
 * The bus as `xbus dev` runs it (stack/: one nats-server with mutual TLS, one
 * broker with the exchange log, its indexer and the review API, in this
 * process), with the four example agencies' connectors outside it: two per
 * agency, each in its own process (faults/provider.ts) in the agency's queue
 * group. With `logMaxBytes`, the stack creates the log stream that size (the
 * log-full row's small log, or a soak's large one).
 */
/** Everything the single-node target can have done to it, with any options (a sized log needs logMaxBytes). */
export const SINGLE_NODE_CAPABILITIES: ReadonlySet<Capability> = new Set([
  "nats-kill",
  "connector-kill",
  "adapter-fault",
  "revoke",
  "sized-log",
]);

export async function startSingleNode(o: TargetOptions): Promise<Target> {
  const logFd = openSync(o.logFile, "a");
  const logger = createLogger({ faults: "stack" }, "warn", (line) => writeSync(logFd, line));
  let stack: Stack;
  try {
    stack = await startStack({
      dir: o.dir,
      logger,
      connectors: "elsewhere",
      policiesDir: FAULT_POLICIES,
      natsMonitor: true,
      ...(o.logMaxBytes !== undefined && { logLimits: { maxBytes: o.logMaxBytes } }),
    });
  } catch (err) {
    closeSync(logFd);
    throw err;
  }
  const nats = stack.natsServer;
  if (!nats) throw new Error("the stack spawned no nats-server");
  const monitorUrl = nats.monitorUrl;
  const { consumers, serials } = faultConsumers(stack);
  const agencies = stack.adapters.map((a) => a.agency);
  const configOf = (agency: string, instance: number): ProviderConfig => {
    const a = stack.adapters.find((x) => x.agency === agency);
    if (!a) throw new Error(`no agency ${agency} in this stack`);
    return {
      agency,
      instance: `faults-${instance}`,
      natsUrl: stack.nats.url,
      natsTls: stack.natsAuth,
      caPath: stack.caPath,
      brokerKeyPaths: [join(stack.dir, "certs", "broker-signing.pub.pem")],
      connector: { certPath: a.client.certPath, keyPath: a.client.keyPath },
    };
  };
  const providers = providerPool(configOf, logFd);
  try {
    await providers.startAll(agencies);
  } catch (err) {
    await providers.stopAll();
    await stack.close();
    closeSync(logFd);
    throw err;
  }
  if (!stack.review) throw new Error("the stack runs no review API");
  const capabilities = new Set<Capability>(["nats-kill", "connector-kill", "adapter-fault", "revoke"]);
  if (o.logMaxBytes !== undefined) capabilities.add("sized-log");
  return {
    name: o.logMaxBytes !== undefined ? `single-node, log of ${o.logMaxBytes} bytes` : "single-node",
    capabilities,
    brokers: [stack.brokerAddress],
    ca: stack.ca.certPem,
    consumers,
    review: reviewClient(stack.review.url, stack.review.token),
    logId: stack.logFiles.log_id,
    logPublicKey: stack.logPublicKey.export({ type: "spki", format: "der" }).subarray(-32).toString("base64"),
    brokerPublicKeys: new Map([["dev", stack.brokerPublicKey]]),
    agencies,
    connectorsPerAgency: CONNECTORS_PER_AGENCY,
    processes() {
      const out: TargetProcess[] = [
        { name: "broker (harness)", pid: process.pid, natsNames: ["xbus-broker", "xbus-indexer"] },
      ];
      if (nats.pid !== undefined) out.push({ name: "nats-server", pid: nats.pid });
      out.push(...providers.processes());
      return out;
    },
    natsConnectionNames: async () => (monitorUrl ? connectionNames(monitorUrl) : []),
    killNats: () => nats.kill(),
    restartNats: () => nats.restart(),
    killConnector: providers.kill,
    startConnector: providers.start,
    adapterFault: providers.fault,
    async growLog(maxBytes) {
      if (o.logMaxBytes === undefined)
        throw new Error("only a target started with logMaxBytes can grow its log");
      // Raising max_bytes is an operator's act: the admin identity, as `xbus federation init --log-max-bytes`.
      const nc = await stack.natsConnect(stack.adminCert, "xbus-faults-admin");
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info(LOG_STREAM);
        await jsm.streams.update(LOG_STREAM, { ...info.config, max_bytes: maxBytes });
      } finally {
        await nc.close();
      }
    },
    revokeConsumer: async (name) => revokeIn(stack, serials, name),
    async close() {
      await providers.stopAll();
      await stack.close();
      closeSync(logFd);
    },
  };
}
