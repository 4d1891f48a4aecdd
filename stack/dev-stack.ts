import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type ConnectionOptions, connect, type NatsConnection } from "@nats-io/transport-node";
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
import { createPopulation, type Population } from "../adapters/examples/population.js";
import { rstaAdapter } from "../adapters/examples/rsta/adapter.js";
import { type AdapterDefinition, type AdapterServer, serveAdapter } from "../adapters/sdk/index.js";
import {
  brokerTlsCheck,
  type ExchangeOutcome,
  type ExchangeRecorder,
  type LogIndexReader,
} from "../broker/index.js";
import {
  type CaDir,
  type CertificateAuthority,
  caDirPaths,
  type IssuedCertificate,
  type IssueRequest,
  initCaDir,
  issueCertificate,
  openCaDir,
} from "../certs/index.js";
import { Catalogue } from "../core/contract/index.js";
import { createLogger, type Logger } from "../core/index.js";
import { type NatsTlsInForce, natsClientOptions, natsTlsInForce } from "../core/nats/index.js";
import { createReplySigner } from "../core/signing/index.js";
import { countNatsReconnects, createTelemetry, type Telemetry } from "../core/telemetry/index.js";
import { createPolicyStore, type PolicyStore } from "../policies/index.js";
import { startBrokerServices, tokenHash } from "./broker-services.js";
import { natsAuthConfig } from "./nats/nats-auth.js";
import { NatsServer } from "./nats/nats-server.js";

/**
 * Everything of the bus on one machine: a nats-server child, a federation CA
 * and certificates, broker, connector and the civil registry adapter. `xbus
 * dev`, the end-to-end tests and the benchmark all start it this way, so what
 * the tests prove is what a newcomer runs.
 */
export const TRUST_DOMAIN = "gov.bt";
export const LOG_ID = "gov.bt/xbus-log-dev";
/** The dev broker's SPIFFE ID: its certificate, and each renewal of it, carries this one. */
export const DEV_BROKER = `spiffe://${TRUST_DOMAIN}/xbus/broker/dev`;
export const DEV_CONSUMER = `spiffe://${TRUST_DOMAIN}/agency/moe/system/scholarships`;
/** The second consumer system of the journeys (driving-licence renewal). */
export const DEV_LICENSING = `spiffe://${TRUST_DOMAIN}/agency/rsta/system/licensing`;
/** The consent authority of the journeys: where a citizen gives consent (policies/federation.yaml). */
export const DEV_PORTAL = `spiffe://${TRUST_DOMAIN}/agency/govtech/system/citizen-portal`;

export interface StackOptions {
  /** Where certificates and dev.json go. */
  dir: string;
  /** Policy bundle folder. Default: the repository's policies/. */
  policiesDir?: string;
  logger?: Logger;
  /** Run the adapter in the connector's process instead of behind gRPC. Default false. */
  inProcessAdapter?: boolean;
  /**
   * The provider agencies' connectors: `started` (the default); `stopped`,
   * connected and ready for `startConnector`; or `elsewhere`, in other
   * processes (the bench's split layout): the stack issues their certificates
   * and lets them onto NATS, but connects and starts nothing for them.
   */
  connectors?: "started" | "stopped" | "elsewhere";
  population?: Population;
  /**
   * Use this nats-server instead of spawning one. Its JetStream store outlives
   * the stack, so the log index and secrets in `dir` are kept and resumed.
   */
  natsUrl?: string;
  /** Replaces the exchange log (JetStream + index + review API) with this recorder. */
  recorder?: ExchangeRecorder;
  /**
   * NATS with mutual TLS and `verify_and_map` (stack/nats/nats-auth.ts): broker and
   * connectors connect with their own certificates and get their role's
   * permissions; nobody else gets in. Default true.
   */
  natsAuth?: boolean;
  /** Serve the spawned nats-server's monitoring endpoints (`nats.monitorUrl`): tests read `/connz` there. */
  natsMonitor?: boolean;
  /** Sees every outcome just before it is logged (tests use it to check what the broker decided). */
  observe?: (outcome: ExchangeOutcome) => void;
  /** The provider agencies to run, each with an adapter and a connector. Default: the examples. */
  agencies?: (population: Population) => AdapterDefinition[];
  /**
   * Traces and metrics for every component of the stack (one process, one
   * wiring). Default: one made from OTEL_* variables, shut down with the stack.
   */
  telemetry?: Telemetry;
  /** The review API's link from an exchange to its trace (`{trace_id}` replaced). Default: XBUS_TRACE_URL. */
  traceUrlTemplate?: string;
}

/** The example agencies `xbus dev` runs. */
export function exampleAgencies(population: Population): AdapterDefinition[] {
  return [dcrcAdapter(population), mohAdapter(population), moeAdapter(population), rstaAdapter(population)];
}

/** A NATS client identity: PEM contents. */
export type NatsIdentity = { cert: string; key: string };

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
  /** The CA's state folder (`<dir>/ca`): ledger, CRL; `xbus certs --ca-dir` works on it. */
  readonly caDir: CaDir;
  /** The CRL the broker watches. */
  readonly crlPath: string;
  /** Makes the broker re-read the CRL now rather than at its next file poll; true if it changed. */
  reloadCrl(): boolean;
  /** Makes the broker re-read its certificate, key and trust bundle now; true if new ones are in force. */
  reloadBrokerTls(): boolean;
  /** The broker's own certificate as it was issued at start (renew it with issueIdentity("broker", …)). */
  readonly brokerCert: PemPair & IssuedCertificate;
  /** The nats-server the stack started, or the one it was pointed at. */
  readonly nats: { readonly url: string; readonly monitorUrl?: string | undefined };
  /** NATS runs with mutual TLS and verify_and_map (see StackOptions.natsAuth). */
  readonly natsAuth: boolean;
  /** Connects to the stack's NATS as `identity` (a broker or connector certificate when natsAuth is on). */
  natsConnect(identity?: NatsIdentity, name?: string): Promise<NatsConnection>;
  readonly brokerAddress: string;
  readonly consumer: PemPair & { spiffeId: string };
  /** Systems the stack issued a certificate for: the dev consumer, rsta licensing, the citizen portal. */
  readonly consumers: readonly (PemPair & { spiffeId: string })[];
  readonly population: Population;
  readonly catalogue: Catalogue;
  readonly brokerPublicKey: KeyObject;
  /** The broker's policy bundle, reloaded when files in the policies folder change. */
  readonly policy: PolicyStore;
  /** Public key that verifies tree heads. */
  readonly logPublicKey: KeyObject;
  /**
   * The log's SQLite index, read-only (the indexer writes it from its worker
   * thread); undefined when a recorder replaced the log.
   */
  readonly index: LogIndexReader | undefined;
  /** The review API and a dev bearer token for it; undefined when a recorder replaced the log. */
  readonly review: { url: string; token: string } | undefined;
  /** The stack's traces and metrics; `/metrics` on the review API serves the metrics. */
  readonly telemetry: Telemetry;
  /** The log index database, the tree-head signing key and the log id (for `xbus log reindex`). */
  readonly logFiles: { index: string; key: string; log_id: string };
  /**
   * Per agency, the adapter's gRPC address (none when adapters run in process)
   * and a client certificate it accepts (its connector's identity: an adapter
   * admits only connectors of its own agency), for the conformance kit.
   */
  readonly adapters: readonly { agency: string; address: string | undefined; client: PemPair }[];
  /** The first agency's adapter client, kept for tools that know one adapter. */
  readonly adapterClient: PemPair;
  /** Issues through the CA folder (recorded in its ledger, so it can be revoked) and writes the files. */
  issueIdentity(name: string, req: IssueRequest): PemPair & IssuedCertificate;
  /** Issues and writes a certificate signed by the stack's CA, outside the ledger (for odd test certificates). */
  issue(name: string, opts: Parameters<typeof issueCertificate>[1]): PemPair & IssuedCertificate;
  /** Starts an agency's connector (again), e.g. after `stopConnector`. Default agency: dcrc. */
  startConnector(agency?: string): Promise<void>;
  stopConnector(agency?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const dir = resolve(options.dir);
  const certDir = join(dir, "certs");
  mkdirSync(certDir, { recursive: true, mode: 0o700 });
  const logger = options.logger ?? createLogger({ component: "dev" });
  const catalogue = Catalogue.load();
  const policiesDir = options.policiesDir ?? resolve(import.meta.dirname, "../policies");
  const policy = createPolicyStore({
    dir: policiesDir,
    catalogue,
    trustDomain: TRUST_DOMAIN,
    logger: logger.child({ component: "policy" }),
  });
  const population = options.population ?? createPopulation();

  // The CA outlives a run of `xbus dev`, so what was revoked stays revoked; identities are renewed each start.
  const caPaths = caDirPaths(join(dir, "ca"));
  const caDir = existsSync(caPaths.caCert)
    ? openCaDir(caPaths.dir)
    : initCaDir({ dir: caPaths.dir, trustDomain: TRUST_DOMAIN, commonName: "gov.bt dev federation CA" });
  const ca = caDir.ca;
  const caPath = join(certDir, "ca.pem");
  // The trust bundle: with an intermediate it holds the root and the issuing CA.
  const trustBundle = readFileSync(caDir.paths.caCert, "utf8");
  writeFileSync(caPath, trustBundle);
  const write = (name: string, c: IssuedCertificate) => {
    const certPath = join(certDir, `${name}.pem`);
    const keyPath = join(certDir, `${name}-key.pem`);
    writeFileSync(certPath, c.certPem);
    writeFileSync(keyPath, c.keyPem, { mode: 0o600 });
    return { ...c, cert: c.certPem, key: c.keyPem, certPath, keyPath };
  };
  const issue = (name: string, opts: Parameters<typeof issueCertificate>[1]) =>
    write(name, issueCertificate(ca, opts));
  const issueIdentity = (name: string, req: IssueRequest) =>
    write(name, caDir.issue({ renew: true, ...req }));
  const server = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] };
  const brokerCert = issueIdentity("broker", {
    role: "broker",
    spiffeId: DEV_BROKER,
    commonName: "xbus broker (dev)",
    ...server,
  });
  const consumer = {
    ...issueIdentity("consumer", {
      role: "system",
      spiffeId: DEV_CONSUMER,
      commonName: "moe scholarships (dev)",
    }),
    spiffeId: DEV_CONSUMER,
  };
  const licensing = {
    ...issueIdentity("consumer-rsta-licensing", {
      role: "system",
      spiffeId: DEV_LICENSING,
      commonName: "rsta licensing (dev)",
    }),
    spiffeId: DEV_LICENSING,
  };
  const portal = {
    ...issueIdentity("citizen-portal", {
      role: "system",
      spiffeId: DEV_PORTAL,
      commonName: "citizen portal (dev)",
    }),
    spiffeId: DEV_PORTAL,
  };
  const { privateKey: signingKey, publicKey: brokerPublicKey } = generateKeyPairSync("ed25519");
  writeFileSync(
    join(certDir, "broker-signing.pub.pem"),
    brokerPublicKey.export({ type: "spki", format: "pem" }),
  );

  const definitions = (options.agencies ?? exampleAgencies)(population);
  const connectorCerts = new Map(
    definitions.map((def) => [
      def.agency,
      issueIdentity(`connector-${def.agency}`, {
        role: "connector",
        spiffeId: `spiffe://${TRUST_DOMAIN}/agency/${def.agency}/connector/dev`,
        commonName: `${def.agency} connector (dev)`,
      }),
    ]),
  );
  // A nats-server the caller started (natsUrl) is configured by the caller.
  const natsAuth = options.natsAuth !== false && options.natsUrl === undefined;
  let extraConfig = "";
  if (natsAuth) {
    const natsCert = issueIdentity("nats", { role: "server", commonName: "nats-server (dev)", ...server });
    extraConfig = natsAuthConfig({
      tls: { certFile: natsCert.certPath, keyFile: natsCert.keyPath, caFile: caPath },
      identities: [brokerCert.spiffeId ?? "", ...[...connectorCerts.values()].map((c) => c.spiffeId ?? "")],
    });
  }
  const spawned = options.natsUrl
    ? undefined
    : await NatsServer.start({ extraConfig, ...(options.natsMonitor ? { monitor: true } : {}) });
  const nats = spawned ?? { url: options.natsUrl as string };
  // Identities as PEM, never their files: the broker's follows the renewals its TLS watcher takes
  // (brokerNatsTls below); the others keep what the stack issued them at start.
  const natsOptions = (
    tls: NatsTlsInForce | undefined,
    name?: string,
    extra: Partial<ConnectionOptions> = {},
  ) =>
    natsClientOptions({
      servers: nats.url,
      ...(name ? { name } : {}),
      extra,
      ...(natsAuth && tls ? { tls } : {}),
    });
  const natsConnect = (identity?: NatsIdentity, name?: string, extra: Partial<ConnectionOptions> = {}) =>
    connect(
      natsOptions(
        identity && natsTlsInForce({ ca: trustBundle, cert: identity.cert, key: identity.key }),
        name,
        extra,
      ),
    );
  const brokerTls = { ca: trustBundle, cert: brokerCert.cert, key: brokerCert.key };
  const brokerNatsTls = natsAuth ? natsTlsInForce(brokerTls) : undefined;
  const closers: (() => Promise<void>)[] = spawned ? [() => spawned.dispose()] : [];
  const telemetry = options.telemetry ?? createTelemetry({ serviceName: "xbus-dev" });
  if (!options.telemetry) closers.push(() => telemetry.shutdown());
  closers.push(async () => policy.close());
  const close = async () => {
    for (const c of closers.reverse())
      await c().catch((err: unknown) => logger.warn({ err }, "shutdown step failed"));
    closers.length = 0;
  };
  try {
    // noAsyncTraces: nats.js otherwise builds two Error objects (stack traces) for every request, ~4% of
    // the broker's CPU in `npm run bench`; failures still arrive as the same error classes.
    const brokerNc = await connect(natsOptions(brokerNatsTls, "xbus-broker-dev", { noAsyncTraces: true }));
    closers.push(() => brokerNc.close());
    countNatsReconnects(brokerNc, telemetry.metrics, "broker");
    const running = new Map<
      string,
      { address: string | undefined; client: PemPair; start(): Promise<void>; stop(): Promise<void> }
    >();
    for (const def of definitions) {
      const connectorCert = connectorCerts.get(def.agency) as PemPair & IssuedCertificate;
      if (options.connectors === "elsewhere") {
        const elsewhere = async () => {
          throw new Error(`agency ${def.agency}'s connector runs in another process`);
        };
        running.set(def.agency, {
          address: undefined,
          client: connectorCert,
          start: elsewhere,
          stop: elsewhere,
        });
        continue;
      }
      telemetry.metrics.watchCertificate(`connector-${def.agency}`, () => connectorCert.notAfter);
      // Each agency's connector is its own NATS user, with its own agency's permissions.
      const connectorNc: NatsConnection = await natsConnect(
        connectorCert,
        undefined,
        connectorNatsOptions(def.agency, "dev"),
      );
      closers.push(() => connectorNc.close());
      countNatsReconnects(connectorNc, telemetry.metrics, `connector-${def.agency}`);
      let adapter: AdapterServer | undefined;
      if (!options.inProcessAdapter) {
        const adapterCert = issueIdentity(`adapter-${def.agency}`, {
          role: "adapter",
          spiffeId: `spiffe://${TRUST_DOMAIN}/agency/${def.agency}/adapter/dev`,
          commonName: `${def.agency} adapter (dev)`,
          ...server,
        });
        const a = await serveAdapter(def, {
          tls: { ca: ca.certPem, cert: adapterCert.cert, key: adapterCert.key },
          trustDomain: TRUST_DOMAIN,
          logger: logger.child({ component: "adapter", agency: def.agency }),
          telemetry,
        });
        adapter = a;
        closers.push(() => a.close());
      }
      const address = adapter ? `localhost:${adapter.port}` : undefined;
      let connector: Connector | undefined;
      const start = async () => {
        if (connector) return;
        const target = address
          ? grpcTarget({ address, tls: { ca: ca.certPem, cert: connectorCert.cert, key: connectorCert.key } })
          : inProcessTarget(def, logger.child({ component: "adapter", agency: def.agency }), telemetry);
        connector = startConnector({
          nats: connectorNc,
          agency: def.agency,
          target,
          brokerKeys: [brokerPublicKey],
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
      if ((options.connectors ?? "started") === "started") await start();
      closers.push(stop);
      running.set(def.agency, { address, client: connectorCert, start, stop });
    }
    const agencyRunner = (agency: string) => {
      const r = running.get(agency);
      if (!r) throw new Error(`agency ${agency} is not running in this stack`);
      return r;
    };

    // The exchange log: JetStream stream (truth) → indexer → SQLite, and the review API over it.
    const secretsDir = join(dir, "secrets");
    mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
    const secretPath = join(secretsDir, "log-secret");
    const logKeyPath = join(secretsDir, "log-key.pem");
    const indexPath = join(dir, "log-index.sqlite");
    // Against a nats-server that keeps its store, the log keeps its secret, key and index across restarts.
    const resume = spawned === undefined && existsSync(secretPath) && existsSync(logKeyPath);
    const logSecret = resume ? Buffer.from(readFileSync(secretPath, "utf8"), "hex") : randomBytes(32);
    const logKey = resume
      ? createPrivateKey(readFileSync(logKeyPath))
      : generateKeyPairSync("ed25519").privateKey;
    const logPublicKey = createPublicKey(logKey);
    if (!resume) {
      writeFileSync(secretPath, logSecret.toString("hex"), { mode: 0o600 });
      writeFileSync(logKeyPath, logKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
      for (const suffix of ["", "-wal", "-shm"]) rmSync(indexPath + suffix, { force: true });
    }
    writeFileSync(join(certDir, "log-key.pub.pem"), logPublicKey.export({ type: "spki", format: "pem" }));
    const token = randomBytes(24).toString("base64url");
    const brokerFiles = { ca: caPath, cert: brokerCert.certPath, key: brokerCert.keyPath };
    const services = await startBrokerServices({
      nats: brokerNc,
      ...(brokerNatsTls ? { natsTls: brokerNatsTls } : {}),
      indexerNatsOptions: natsOptions(undefined, "xbus-indexer-dev", { noAsyncTraces: true }),
      tls: brokerTls,
      tlsFiles: brokerFiles,
      // The checks `xbus broker` runs at start and on a reload, though the stack issued the first certificate.
      checkTls: brokerTlsCheck(TRUST_DOMAIN, brokerFiles, DEV_BROKER),
      crlPath: caDir.paths.crl,
      catalogue,
      policy,
      trustDomain: TRUST_DOMAIN,
      brokerId: "dev",
      signingKey,
      log: { logId: LOG_ID, logSecret, logKey, indexPath },
      ...(options.recorder ? { recorder: options.recorder } : {}),
      ...(options.observe ? { observe: options.observe } : {}),
      review: {
        tokenHashes: [tokenHash(token)],
        traceUrlTemplate: options.traceUrlTemplate ?? process.env.XBUS_TRACE_URL,
      },
      logger,
      telemetry,
    });
    closers.push(() => services.close());
    const { broker, index } = services;
    const review = services.reviewUrl === undefined ? undefined : { url: services.reviewUrl, token };

    return {
      dir,
      ca,
      caPath,
      caDir,
      crlPath: caDir.paths.crl,
      reloadCrl: () => broker.reloadCrl(),
      reloadBrokerTls: () => broker.reloadTls(),
      brokerCert,
      nats,
      natsConnect,
      natsAuth,
      brokerAddress: `localhost:${broker.port}`,
      consumer,
      consumers: [consumer, licensing, portal],
      population,
      catalogue,
      brokerPublicKey,
      policy,
      logPublicKey,
      index,
      review,
      telemetry,
      logFiles: { index: indexPath, key: logKeyPath, log_id: LOG_ID },
      adapters: [...running].map(([agency, r]) => ({ agency, address: r.address, client: r.client })),
      adapterClient:
        running.size > 0 ? pemOf(certDir, `connector-${definitions[0]?.agency}`) : pemOf(certDir, "consumer"),
      issue,
      issueIdentity,
      startConnector: (agency = "dcrc") => agencyRunner(agency).start(),
      stopConnector: (agency = "dcrc") => agencyRunner(agency).stop(),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

function pemOf(certDir: string, name: string): PemPair {
  const certPath = join(certDir, `${name}.pem`);
  const keyPath = join(certDir, `${name}-key.pem`);
  return { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8"), certPath, keyPath };
}
