import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { createLogger } from "../../core/index.js";
import { createServiceClient } from "../../core/rpc/index.js";
import { Consent } from "../../proto/gen/xbus/v1/consent_pb.js";
import { Exchange } from "../../proto/gen/xbus/v1/exchange_pb.js";
import {
  type ClusterStack,
  type Stack,
  startClusterStack,
  startStack,
  TRUST_DOMAIN,
} from "../../stack/index.js";
import { benchAgency } from "../agency.js";
import { LAYOUTS, type Layout } from "../protocol.js";
import { subjectForSize } from "../record.js";
import { watchWitnessLatency } from "../witness-latency.js";
import type { BusProviderConfig } from "./bus-provider.js";
import { forkProvider, type ProviderProcess, serveTarget } from "./child.js";

/**
 * The bus as `xbus dev` and the tests run it (stack/dev-stack.ts: its own
 * nats-server, certificates, broker, connector, adapter, and whatever the
 * stack turns on by default: the exchange log and its indexer, consent,
 * rates, tracing, two witnesses), with the bench's agency and policy bundle, whose grant has
 * a CEL condition and requires consent. argv[2] = "bridged" (adapter behind
 * gRPC) or "in-process" (SDK adapter inside the connector); argv[3] = the
 * record sizes to record a consent for; argv[4] = the layout: "split" (the
 * broker here, the bench agency's connector and adapter in a process of their
 * own, bus-provider.ts, as agencies deploy them) or "one-process" (all here,
 * as `xbus dev` runs them). argv[5] = "cluster": the federation's topology instead
 * (stack/dev-cluster.ts, `xbus dev --cluster`): three core nats-servers with the
 * log at R3, the agency's connector on its own leaf node, two brokers the load
 * takes turns over, and the log service with its standby.
 */
const modeArg = process.argv[2];
if (modeArg !== "bridged" && modeArg !== "in-process") {
  process.stderr.write(`bench bus target: mode must be bridged or in-process, got ${modeArg}\n`);
  process.exit(2);
}
const mode: BusProviderConfig["mode"] = modeArg;
const sizes = (process.argv[3] ?? "").split(",").filter(Boolean).map(Number);
const layout = (process.argv[4] ?? "split") as Layout;
if (!LAYOUTS.includes(layout)) {
  process.stderr.write(`bench bus target: layout must be ${LAYOUTS.join(" or ")}, got ${layout}\n`);
  process.exit(2);
}
const cluster = process.argv[5] === "cluster";

/** bench/policies, found from the sources (tsx) and from the compiled dist/bench/targets alike. */
function findBenchPolicies(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    const candidate = join(dir, "bench", "policies");
    if (existsSync(join(candidate, "bench.yaml"))) return candidate;
  }
  throw new Error(`bench/policies/bench.yaml not found above ${import.meta.dirname}`);
}
export const BENCH_POLICIES = findBenchPolicies();
const SERVICE = "dcrc.citizen-record";
const PURPOSE = "performance-test";
const PORTAL = `spiffe://${TRUST_DOMAIN}/agency/govtech/system/citizen-portal`;

serveTarget(async () => {
  const dir = mkdtempSync(join(tmpdir(), "xbus-bench-"));
  // Warnings and errors only: a bench that fails should say why, but per-exchange info lines are not the bus's job here.
  const logger = createLogger({ bench: mode }, "warn");
  try {
    const options = {
      dir,
      logger,
      inProcessAdapter: mode === "in-process",
      connectors: layout === "split" ? ("elsewhere" as const) : ("started" as const),
      agencies: () => [benchAgency()],
      policiesDir: BENCH_POLICIES,
      // Two witnesses, as `xbus dev` runs them (three with the cluster, as `xbus dev --cluster`): the
      // bench measures exchange → witnessed checkpoint.
      witnesses: cluster ? 3 : 2,
    };
    const stack: Stack & Partial<ClusterStack> = cluster
      ? await startClusterStack(options)
      : await startStack(options);
    const watch =
      stack.index && stack.witnessing ? watchWitnessLatency(stack.index, stack.witnessing) : undefined;
    let provider: ProviderProcess | undefined;
    try {
      if (layout === "split") provider = await forkProvider("bus-provider.js", providerConfig(stack));
      const consents = await recordConsents(stack, sizes);
      return {
        target: {
          address: stack.brokerAddress,
          ...(stack.brokerAddresses ? { addresses: [...stack.brokerAddresses] } : {}),
          method: "/xbus.v1.Exchange/Fetch",
          tls: { ca: stack.ca.certPem, cert: stack.consumer.cert, key: stack.consumer.key },
          consents,
        },
        ...(provider ? { provider } : {}),
        ...(watch && { witnessSamples: watch.take }),
        natsPids: () =>
          stack.core && stack.leaves
            ? [...stack.core.nodes.map((n) => n.pid), ...[...stack.leaves.values()].map((l) => l.pid)]
            : [stack.natsServer?.pid],
        async close() {
          watch?.stop();
          await provider?.stop();
          await stack.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      watch?.stop();
      await provider?.stop();
      await stack.close();
      throw err;
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
});

/** What the provider's process needs: the files the stack issued for the bench agency. */
function providerConfig(stack: Stack & Partial<ClusterStack>): BusProviderConfig {
  const connector = stack.adapters.find((a) => a.agency === "dcrc")?.client;
  if (!connector) throw new Error("the stack issued no connector certificate for dcrc");
  const adapter =
    mode === "bridged"
      ? stack.issueIdentity("adapter-dcrc", {
          role: "adapter",
          spiffeId: `spiffe://${TRUST_DOMAIN}/agency/dcrc/adapter/dev`,
          commonName: "dcrc adapter (bench)",
          dnsNames: ["localhost"],
          ipAddresses: ["127.0.0.1", "::1"],
        })
      : undefined;
  return {
    mode,
    // On the cluster, the agency's connector connects to its own leaf node (its certificate names localhost).
    natsUrl: stack.leaves?.get("dcrc")?.tlsUrl ?? stack.nats.url,
    trustDomain: TRUST_DOMAIN,
    caPath: stack.caPath,
    brokerKeyPaths: [...(stack.brokerKeyPaths ?? [join(stack.dir, "certs", "broker-signing.pub.pem")])],
    connector: { certPath: connector.certPath, keyPath: connector.keyPath },
    ...(adapter ? { adapter: { certPath: adapter.certPath, keyPath: adapter.keyPath } } : {}),
  };
}

/**
 * Records, as the citizen portal, one consent per bench subject, and waits
 * until the broker's copy of the consent bucket has them (one Fetch each).
 */
async function recordConsents(stack: Stack, recordSizes: number[]): Promise<Record<number, string>> {
  const portal = stack.issue("bench-portal", {
    spiffeId: PORTAL,
    commonName: "bench citizen portal",
    usage: "client",
  });
  const ca = Buffer.from(stack.ca.certPem);
  const consentClient = createServiceClient(
    Consent,
    stack.brokerAddress,
    credentials.createSsl(ca, Buffer.from(portal.key), Buffer.from(portal.cert)),
  );
  const exchange = createServiceClient(
    Exchange,
    stack.brokerAddress,
    credentials.createSsl(ca, Buffer.from(stack.consumer.key), Buffer.from(stack.consumer.cert)),
  );
  try {
    const out: Record<number, string> = {};
    for (const size of recordSizes) {
      const subjectId = subjectForSize(size);
      const res = await consentClient.grant(
        {
          subjectId,
          consumer: stack.consumer.spiffeId,
          services: [SERVICE],
          purpose: PURPOSE,
          notAfter: BigInt(Date.now() + 24 * 3_600_000),
        },
        { deadline: Date.now() + 10_000 },
      );
      const id = res.consent?.id;
      if (!id) throw new Error("the broker recorded no consent");
      out[size] = id;
      for (let attempt = 0; ; attempt++) {
        try {
          await exchange.fetch(
            { service: SERVICE, subjectId, purpose: PURPOSE, consentId: id },
            { deadline: Date.now() + 30_000 },
          );
          break;
        } catch (err) {
          if (attempt >= 50) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    return out;
  } finally {
    consentClient.close();
    exchange.close();
  }
}
