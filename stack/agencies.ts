import { createPrivateKey, type KeyObject } from "node:crypto";
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import {
  type Connector,
  connectorNatsOptions,
  grpcTarget,
  inProcessTarget,
  startConnector,
} from "../adapters/connector/index.js";
import { dcrcAdapter } from "../adapters/examples/dcrc/adapter.js";
import { moeAdapter } from "../adapters/examples/moe/adapter.js";
import { mohAdapter } from "../adapters/examples/moh/adapter.js";
import type { Population } from "../adapters/examples/population.js";
import { rstaAdapter } from "../adapters/examples/rsta/adapter.js";
import { type AdapterDefinition, type AdapterServer, serveAdapter } from "../adapters/sdk/index.js";
import type { Logger } from "../core/index.js";
import { createReplySigner } from "../core/signing/index.js";
import { countNatsReconnects, type Telemetry } from "../core/telemetry/index.js";
import { type Identities, type IssuedPair, LOOPBACK, type PemPair, TRUST_DOMAIN } from "./identities.js";

/** The example agencies `xbus dev` runs. */
export function exampleAgencies(population: Population): AdapterDefinition[] {
  return [dcrcAdapter(population), mohAdapter(population), moeAdapter(population), rstaAdapter(population)];
}

/** The SPIFFE ID of an agency's dev connector: its NATS user, and the signer of its replies. */
export const devConnectorId = (agency: string) => `spiffe://${TRUST_DOMAIN}/agency/${agency}/connector/dev`;

/** One provider agency of a stack: its adapter (if behind gRPC) and its connector, started and stopped. */
export interface RunningAgency {
  /** The adapter's gRPC address; undefined when it runs inside the connector or elsewhere. */
  readonly address: string | undefined;
  /** The client certificate the adapter accepts: its connector's. */
  readonly client: PemPair;
  /** Makes the adapter re-read the CRL now; true if it changed (false for an adapter not behind gRPC here). */
  reloadCrl(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface AgenciesOptions {
  definitions: readonly AdapterDefinition[];
  identities: Identities;
  /** Each connector's certificate, issued before NATS starts (its SPIFFE ID is a NATS user). */
  connectorCerts: ReadonlyMap<string, IssuedPair>;
  /** Connects to the agency's NATS (the stack's, or its own leaf node) as the given certificate, with `extra` options. */
  natsConnect(identity: PemPair, extra: Partial<ConnectionOptions>, agency: string): Promise<NatsConnection>;
  /** `started`, `stopped` (connected, ready for start()), or `elsewhere` (in another process). */
  connectors: "started" | "stopped" | "elsewhere";
  inProcessAdapter: boolean;
  /** The keys connectors check the broker's route signatures with. */
  brokerKeys: readonly KeyObject[];
  logger: Logger;
  telemetry: Telemetry;
  /** Where each started part registers how to stop it; the stack runs them in reverse at close. */
  closers: (() => Promise<void>)[];
}

/**
 * The provider agencies: per agency, an adapter behind gRPC with mutual TLS
 * (or in the connector's process) and a connector on its own NATS connection
 * with its own agency's permissions.
 */
export async function startAgencies(o: AgenciesOptions): Promise<Map<string, RunningAgency>> {
  const running = new Map<string, RunningAgency>();
  for (const def of o.definitions) {
    const connectorCert = o.connectorCerts.get(def.agency);
    if (!connectorCert) throw new Error(`no connector certificate for agency ${def.agency}`);
    if (o.connectors === "elsewhere") {
      const elsewhere = async () => {
        throw new Error(`agency ${def.agency}'s connector runs in another process`);
      };
      running.set(def.agency, {
        address: undefined,
        client: connectorCert,
        reloadCrl: () => false,
        start: elsewhere,
        stop: elsewhere,
      });
      continue;
    }
    running.set(def.agency, await startAgency(def, connectorCert, o));
  }
  return running;
}

async function startAgency(
  def: AdapterDefinition,
  connectorCert: IssuedPair,
  o: AgenciesOptions,
): Promise<RunningAgency> {
  const { identities, logger, telemetry } = o;
  telemetry.metrics.watchCertificate(`connector-${def.agency}`, () => connectorCert.notAfter);
  const connectorNc = await o.natsConnect(connectorCert, connectorNatsOptions(def.agency, "dev"), def.agency);
  o.closers.push(() => connectorNc.close());
  countNatsReconnects(connectorNc, telemetry.metrics, `connector-${def.agency}`);
  let adapter: AdapterServer | undefined;
  if (!o.inProcessAdapter) {
    const adapterCert = identities.issueIdentity(`adapter-${def.agency}`, {
      role: "adapter",
      spiffeId: `spiffe://${TRUST_DOMAIN}/agency/${def.agency}/adapter/dev`,
      commonName: `${def.agency} adapter (dev)`,
      ...LOOPBACK,
    });
    const a = await serveAdapter(def, {
      tls: { ca: identities.ca.certPem, cert: adapterCert.cert, key: adapterCert.key },
      trustDomain: TRUST_DOMAIN,
      brokerKeys: o.brokerKeys,
      crlPath: identities.caDir.paths.crl,
      logger: logger.child({ component: "adapter", agency: def.agency }),
      telemetry,
    });
    adapter = a;
    o.closers.push(() => a.close());
  }
  const address = adapter ? `localhost:${adapter.port}` : undefined;
  let connector: Connector | undefined;
  const start = async () => {
    if (connector) return;
    const target = address
      ? grpcTarget({
          address,
          agency: def.agency,
          trustDomain: TRUST_DOMAIN,
          logger: logger.child({ component: "connector", agency: def.agency }),
          tls: { ca: identities.ca.certPem, cert: connectorCert.cert, key: connectorCert.key },
        })
      : inProcessTarget(def, logger.child({ component: "adapter", agency: def.agency }), telemetry);
    connector = startConnector({
      nats: connectorNc,
      agency: def.agency,
      target,
      brokerKeys: [...o.brokerKeys],
      signer: createReplySigner(connectorCert.cert, createPrivateKey(connectorCert.key)),
      logger: logger.child({ component: "connector", agency: def.agency }),
      telemetry,
    });
    await connectorNc.flush();
  };
  const stop = async () => {
    const c = connector;
    connector = undefined;
    await c?.close();
    await connectorNc.flush();
  };
  if (o.connectors === "started") await start();
  o.closers.push(stop);
  return { address, client: connectorCert, reloadCrl: () => adapter?.reloadCrl() ?? false, start, stop };
}
