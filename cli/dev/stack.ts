import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  type Connector,
  grpcTarget,
  inProcessTarget,
  startConnector,
} from "../../adapters/connector/index.js";
import { dcrcAdapter } from "../../adapters/examples/dcrc/adapter.js";
import { createPopulation, type Population } from "../../adapters/examples/population.js";
import { type AdapterServer, serveAdapter } from "../../adapters/sdk/index.js";
import { type Broker, createLogRecorder, type ExchangeRecorder, startBroker } from "../../broker/index.js";
import {
  type CertificateAuthority,
  createCa,
  type IssuedCertificate,
  issueCertificate,
} from "../../certs/index.js";
import { Catalogue } from "../../core/catalogue.js";
import { createLogger, type Logger } from "../../core/logger.js";
import { NatsServer } from "../../core/nats-server.js";
import { loadBundle, type PolicyBundle } from "../../policies/index.js";

/**
 * Everything of the bus on one machine: a nats-server child, a federation CA
 * and certificates, broker, connector and the civil registry adapter. `xbus
 * dev`, the end-to-end tests and the benchmark all start it this way, so what
 * the tests prove is what a newcomer runs.
 */
export const TRUST_DOMAIN = "gov.bt";
export const DEV_CONSUMER = `spiffe://${TRUST_DOMAIN}/agency/moe/system/scholarships`;

export interface StackOptions {
  /** Where certificates and dev.json go. */
  dir: string;
  /** Policy bundle folder. Default: the repository's policies/. */
  policiesDir?: string;
  logger?: Logger;
  /** Run the adapter in the connector's process instead of behind gRPC. Default false. */
  inProcessAdapter?: boolean;
  /** Start the connector. Default true. */
  connector?: boolean;
  population?: Population;
  recorder?: ExchangeRecorder;
}

export interface PemPair {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

export interface Stack {
  readonly dir: string;
  readonly ca: CertificateAuthority;
  readonly caPath: string;
  readonly nats: NatsServer;
  readonly brokerAddress: string;
  readonly consumer: PemPair & { spiffeId: string };
  readonly population: Population;
  readonly catalogue: Catalogue;
  readonly brokerPublicKey: KeyObject;
  readonly adapterAddress: string | undefined;
  /** Issues and writes a certificate signed by the stack's CA. */
  issue(name: string, opts: Parameters<typeof issueCertificate>[1]): PemPair & IssuedCertificate;
  /** Starts a connector for dcrc (again), e.g. after `stopConnector`. */
  startConnector(): Promise<void>;
  stopConnector(): Promise<void>;
  close(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const dir = resolve(options.dir);
  const certDir = join(dir, "certs");
  mkdirSync(certDir, { recursive: true, mode: 0o700 });
  const logger = options.logger ?? createLogger({ component: "dev" });
  const catalogue = Catalogue.load();
  const policiesDir = options.policiesDir ?? resolve(import.meta.dirname, "../../policies");
  const bundle: PolicyBundle = loadBundle({ dir: policiesDir, catalogue, trustDomain: TRUST_DOMAIN });
  const population = options.population ?? createPopulation();

  const ca = createCa({ trustDomain: TRUST_DOMAIN, commonName: "gov.bt dev federation CA" });
  const caPath = join(certDir, "ca.pem");
  writeFileSync(caPath, ca.certPem);
  const issue = (name: string, opts: Parameters<typeof issueCertificate>[1]) => {
    const c = issueCertificate(ca, opts);
    const certPath = join(certDir, `${name}.pem`);
    const keyPath = join(certDir, `${name}-key.pem`);
    writeFileSync(certPath, c.certPem);
    writeFileSync(keyPath, c.keyPem, { mode: 0o600 });
    return { ...c, cert: c.certPem, key: c.keyPem, certPath, keyPath };
  };
  const server = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] };
  const brokerCert = issue("broker", {
    spiffeId: `spiffe://${TRUST_DOMAIN}/xbus/broker/dev`,
    commonName: "xbus broker (dev)",
    usage: "client-server",
    ...server,
  });
  const consumer = {
    ...issue("consumer", { spiffeId: DEV_CONSUMER, commonName: "moe scholarships (dev)", usage: "client" }),
    spiffeId: DEV_CONSUMER,
  };
  const connectorCert = issue("connector-dcrc", {
    spiffeId: `spiffe://${TRUST_DOMAIN}/agency/dcrc/connector/dev`,
    commonName: "dcrc connector (dev)",
    usage: "client",
  });
  const adapterCert = issue("adapter-dcrc", {
    spiffeId: `spiffe://${TRUST_DOMAIN}/agency/dcrc/adapter/dev`,
    commonName: "dcrc adapter (dev)",
    usage: "server",
    ...server,
  });

  const { privateKey: signingKey, publicKey: brokerPublicKey } = generateKeyPairSync("ed25519");
  writeFileSync(
    join(certDir, "broker-signing.pub.pem"),
    brokerPublicKey.export({ type: "spki", format: "pem" }),
  );

  const nats = await NatsServer.start();
  const closers: (() => Promise<void>)[] = [() => nats.dispose()];
  const close = async () => {
    for (const c of closers.reverse())
      await c().catch((err: unknown) => logger.warn({ err }, "shutdown step failed"));
    closers.length = 0;
  };
  try {
    const brokerNc = await connect({ servers: nats.url, name: "xbus-broker-dev" });
    closers.push(() => brokerNc.close());
    const connectorNc: NatsConnection = await connect({ servers: nats.url, name: "xbus-connector-dcrc-dev" });
    closers.push(() => connectorNc.close());

    let adapter: AdapterServer | undefined;
    if (!options.inProcessAdapter) {
      adapter = await serveAdapter(dcrcAdapter(population), {
        tls: { ca: ca.certPem, cert: adapterCert.cert, key: adapterCert.key },
        trustDomain: TRUST_DOMAIN,
        logger: logger.child({ component: "adapter", agency: "dcrc" }),
      });
      const a = adapter;
      closers.push(() => a.close());
    }
    const adapterAddress = adapter ? `localhost:${adapter.port}` : undefined;

    let connector: Connector | undefined;
    const startOne = async () => {
      if (connector) return;
      const target = adapterAddress
        ? grpcTarget({
            address: adapterAddress,
            tls: { ca: ca.certPem, cert: connectorCert.cert, key: connectorCert.key },
          })
        : inProcessTarget(dcrcAdapter(population), logger.child({ component: "adapter", agency: "dcrc" }));
      connector = startConnector({
        nats: connectorNc,
        agency: "dcrc",
        target,
        brokerKeys: [brokerPublicKey],
        logger: logger.child({ component: "connector", agency: "dcrc" }),
      });
      await connectorNc.flush();
    };
    const stopOne = async () => {
      const c = connector;
      connector = undefined;
      await c?.close();
      await connectorNc.flush();
    };
    if (options.connector !== false) await startOne();
    closers.push(stopOne);

    const broker: Broker = await startBroker({
      tls: { ca: ca.certPem, cert: brokerCert.cert, key: brokerCert.key },
      nats: brokerNc,
      catalogue,
      policy: () => bundle,
      recorder: options.recorder ?? createLogRecorder(logger.child({ component: "broker" })),
      trustDomain: TRUST_DOMAIN,
      brokerId: "dev",
      signingKey,
      logger: logger.child({ component: "broker" }),
    });
    closers.push(() => broker.close());

    return {
      dir,
      ca,
      caPath,
      nats,
      brokerAddress: `localhost:${broker.port}`,
      consumer,
      population,
      catalogue,
      brokerPublicKey,
      adapterAddress,
      issue,
      startConnector: startOne,
      stopConnector: stopOne,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
