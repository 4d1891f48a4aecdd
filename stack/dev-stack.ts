import { generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import { createPopulation, type Population } from "../adapters/examples/population.js";
import type { AdapterDefinition } from "../adapters/sdk/index.js";
import {
  brokerTlsCheck,
  type ExchangeOutcome,
  type ExchangeRecorder,
  type LogIndexReader,
  type Witnessing,
} from "../broker/index.js";
import { DEFAULT_MAX_STREAM_BYTES } from "../broker/log/jetstream-log.js";
import type {
  CaDir,
  CertificateAuthority,
  IssuedCertificate,
  IssueRequest,
  issueCertificate,
} from "../certs/index.js";
import { Catalogue } from "../core/contract/index.js";
import { createLogger, type Logger } from "../core/index.js";
import { logVkey } from "../core/log-format/index.js";
import {
  connectComponent,
  type NatsTlsInForce,
  natsClientOptions,
  natsTlsInForce,
} from "../core/nats/index.js";
import { rawEd25519 } from "../core/signing/index.js";
import {
  countNatsReconnects,
  createTelemetry,
  serveMetrics,
  type Telemetry,
} from "../core/telemetry/index.js";
import { createPolicyStore, type PolicyStore } from "../policies/index.js";
import { parseWitnessPolicy } from "../verifier/index.js";
import { devConnectorId, exampleAgencies, startAgencies } from "./agencies.js";
import {
  type BrokerServices,
  type BrokerServicesOptions,
  startBrokerServices,
  tokenHash,
} from "./broker-services.js";
import { type CitizenNotifyOptions, startCitizenNotifications } from "./citizen-notify.js";
import { type CitizenPageJson, startCitizenPage } from "./citizen-page.js";
import { initFederation } from "./federation-init.js";
import {
  DEV_ADMIN,
  DEV_BROKER,
  DEV_CONSUMER,
  DEV_LICENSING,
  DEV_LOG,
  DEV_PORTAL,
  type Identities,
  LOOPBACK,
  openIdentities,
  type PemPair,
  TRUST_DOMAIN,
} from "./identities.js";
import { logSecrets } from "./log-secrets.js";
import { startLogService, type WitnessingSettings } from "./log-service.js";
import { natsAuthConfig } from "./nats/nats-auth.js";
import { NatsServer } from "./nats/nats-server.js";
import { makePrivateDir, makePrivateFile } from "./private-files.js";
import { repoFolder } from "./repo-files.js";
import { startWitnessService, WITNESS_STATE_FILE, type WitnessService } from "./witness-service.js";

/**
 * Everything of the bus on one machine: a nats-server child, a federation CA
 * and certificates, broker, connector and the civil registry adapter. `xbus
 * dev`, the end-to-end tests and the benchmark all start it this way, so what
 * the tests prove is what a newcomer runs.
 */
export const LOG_ID = "gov.bt/xbus-log-dev";

export interface StackOptions {
  /** Where certificates and dev.json go. */
  dir: string;
  /** The exchange log stream's max_bytes (when the broker creates it) and the retry queue's bound. */
  logLimits?: BrokerServicesOptions["logLimits"];
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
  /**
   * A core cluster the caller started with this stack's CA (the one in `dir`) and its users (DEV_ADMIN,
   * DEV_BROKER, each connector's): the stack connects to these servers with mutual TLS, spawns none,
   * and makes the log stream and consent bucket at `replicas`.
   */
  natsCluster?: {
    urls: readonly string[];
    replicas: number;
    /** Its JetStream stores are new (`xbus dev --cluster`): the log's secrets and index in `dir` are made anew. */
    fresh?: boolean;
  };
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
  /**
   * Run "who read my data" (the citizen page) with the dev identity provider as its issuer
   * (citizen-page.ts). Default false; `xbus dev` turns it on.
   */
  citizenPage?: boolean;
  /**
   * The clock that delayed disclosure is judged by, on the citizen page and in oversight's view (ms
   * since the epoch); default Date.now. Tests move it past an embargo's end. The broker, the log and
   * its tree heads keep the real time.
   */
  clock?: () => number;
  /** Tell a citizen portal when an access becomes visible to a citizen (citizen-notify.ts); default off. */
  notify?: CitizenNotifyOptions;
  /** The review API's link from an exchange to its trace (`{trace_id}` replaced). Default: XBUS_TRACE_URL. */
  traceUrlTemplate?: string;
  /**
   * Where the review API listens (default 127.0.0.1, a free port) and how: `tls` issues it a server
   * certificate from the stack's CA for `hostname` (and loopback); a hostname that is not loopback
   * without TLS or `allowInsecureHttp` refuses the stack's start, as `xbus broker` refuses it.
   */
  review?: { hostname?: string; port?: number; tls?: boolean; allowInsecureHttp?: boolean };
  /**
   * Route-signing public keys of other brokers the connectors accept besides the stack's own (more
   * brokers on the stack's NATS: the federation tests).
   */
  otherBrokerKeys?: readonly KeyObject[];
  /**
   * Per agency, the NATS servers its connector connects to (the agency's leaf node, `xbus dev --cluster`)
   * instead of the stack's.
   */
  agencyNats?: ReadonlyMap<string, readonly string[]>;
  /**
   * Witnesses to run (`xbus witness`, in this process, on loopback; their keys and state under
   * `<dir>/witnesses`): the log service pushes its checkpoints to them and serves the checkpoint they
   * cosigned (the policy in `<dir>/witness-policy.txt`: both of two, all but one of three or more).
   * Default 0: the log-signed checkpoint.
   */
  witnesses?: number;
  /** Witnessing's round interval and alert threshold (LogServiceOptions.witnessing); defaults when absent. */
  witnessing?: Pick<WitnessingSettings, "everyMs" | "alertSeconds" | "timeoutMs">;
  /**
   * `elsewhere`: the stack's broker runs without the log service (no index, no review API, no signer), as
   * `xbus broker` with no log key; the caller runs the log services (`xbus log serve` processes: the fault
   * harness's cluster target) from the log's files in `dir` (`logFiles`, `logSecretPath`). Default: in this process.
   */
  logService?: "in-process" | "elsewhere";
}

/** A broker the stack started beside its own (`addBroker`): no log key, no index, no review API. */
export interface ExtraBroker {
  readonly brokerId: string;
  readonly address: string;
  /** Stops its front door and connections (the stack's close does it too). */
  close(): Promise<void>;
}

/** A log service the stack started beside its own (`addLogService`): a standby signer with its own index. */
export interface ExtraLogService {
  readonly reviewUrl: string;
  close(): Promise<void>;
}

/** A witness the stack runs, as dev.json lists it. */
export interface DevWitness {
  /** Its name in the policy (W1, W2, …). */
  name: string;
  url: string;
  vkey: string;
}

/** A NATS client identity: PEM contents. */
export type NatsIdentity = { cert: string; key: string };

export interface Stack {
  readonly dir: string;
  readonly ca: CertificateAuthority;
  readonly caPath: string;
  /** The CA's state folder (`<dir>/ca`): ledger, CRL; `xbus certs --ca-dir` works on it. */
  readonly caDir: CaDir;
  /** The CRL the broker watches. */
  readonly crlPath: string;
  /** Makes the broker and the adapters re-read the CRL now rather than at their next file poll; true if it changed. */
  reloadCrl(): boolean;
  /** Makes the broker re-read its certificate, key and trust bundle now; true if new ones are in force. */
  reloadBrokerTls(): boolean;
  /** The admin identity that made the log stream and the consent bucket; none without natsAuth. */
  readonly adminCert: PemPair | undefined;
  /** The broker's own certificate as it was issued at start (renew it with issueIdentity("broker", …)). */
  readonly brokerCert: PemPair & IssuedCertificate;
  /** The nats-server the stack started, or the one it was pointed at. */
  readonly nats: { readonly url: string; readonly monitorUrl?: string | undefined };
  /** The nats-server this stack spawned (none when it was pointed at one): the fault harness kills it. */
  readonly natsServer: NatsServer | undefined;
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
  /**
   * The broker's route-signing key and its file (`<dir>/secrets`, 0600): the conformance kit signs routes
   * with it against the stack's adapters, which trust only this broker. Dev and tests only.
   */
  readonly brokerSigningKey: KeyObject;
  readonly brokerSigningKeyPath: string;
  /** The broker's policy bundle, reloaded when files in the policies folder change. */
  readonly policy: PolicyStore;
  /** Public key that verifies tree heads. */
  readonly logPublicKey: KeyObject;
  /**
   * The log's SQLite index, read-only (the indexer writes it from its worker
   * thread); undefined when a recorder replaced the log.
   */
  readonly index: LogIndexReader | undefined;
  /** The citizen page, its dev issuer and who can sign in; undefined unless StackOptions.citizenPage. */
  readonly citizen: CitizenPageJson | undefined;
  /** The review API and a dev bearer token for it; undefined when a recorder replaced the log. */
  readonly review: { url: string; token: string } | undefined;
  /** The stack's traces and metrics. */
  readonly telemetry: Telemetry;
  /** `/metrics`, `/healthz`, `/readyz` on a loopback port of their own: never on the review API's. */
  readonly metricsUrl: string;
  /** The log index database, the tree-head signing key and the log id (for `xbus log reindex`). */
  readonly logFiles: { index: string; key: string; log_id: string };
  /** The log's secret (hex, 0600): with logFiles.key, what an `xbus log serve` or `xbus broker` of this log reads. */
  readonly logSecretPath: string;
  /** The log's C2SP verifier key: what checks its checkpoints (dev.json `log_vkey`). */
  readonly logVkey: string;
  /** The witnesses the stack runs (StackOptions.witnesses), and the policy file naming them; none without. */
  readonly witnesses: readonly DevWitness[];
  readonly witnessPolicyPath: string | undefined;
  /** Stops a witness (an outage, for tests); the log goes on signing. */
  stopWitness(name: string): Promise<void>;
  /** The log service's pushes and witnessed checkpoint; undefined without witnesses. */
  readonly witnessing: Witnessing | undefined;
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
  /**
   * Starts another broker on the stack's NATS, CA, policies and log secret, holding no log key (as
   * `xbus broker` with a log service elsewhere). Its route-signing key must be one the connectors
   * trust (StackOptions.otherBrokerKeys).
   */
  addBroker(o: { brokerId: string; signingKey: KeyObject }): Promise<ExtraBroker>;
  /**
   * Starts another log service on the stack's log (as `xbus log serve`): its own index in `dir`, the same
   * key; it stands by while the stack's own holds the signer's lease, and takes over when that lapses.
   */
  addLogService(name: string, o?: { leaseMs?: number }): Promise<ExtraLogService>;
  close(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const dir = resolve(options.dir);
  const logger = options.logger ?? createLogger({ component: "dev" });
  const catalogue = Catalogue.load();
  const policy = createPolicyStore({
    dir: options.policiesDir ?? repoFolder("policies", "federation.yaml"),
    catalogue,
    trustDomain: TRUST_DOMAIN,
    logger: logger.child({ component: "policy" }),
  });
  const population = options.population ?? createPopulation();

  makePrivateDir(dir);
  const identities = openIdentities(dir);
  const { caDir, caPath, trustBundle, issueIdentity } = identities;
  const brokerCert = issueIdentity("broker", {
    role: "broker",
    spiffeId: DEV_BROKER,
    commonName: "xbus broker (dev)",
    ...LOOPBACK,
  });
  const system = (name: string, spiffeId: string, commonName: string) => ({
    ...issueIdentity(name, { role: "system", spiffeId, commonName }),
    spiffeId,
  });
  const consumer = system("consumer", DEV_CONSUMER, "moe scholarships (dev)");
  const licensing = system("consumer-rsta-licensing", DEV_LICENSING, "rsta licensing (dev)");
  const portal = system("citizen-portal", DEV_PORTAL, "citizen portal (dev)");
  const { privateKey: signingKey, publicKey: brokerPublicKey } = generateKeyPairSync("ed25519");
  writeFileSync(
    join(identities.certDir, "broker-signing.pub.pem"),
    brokerPublicKey.export({ type: "spki", format: "pem" }),
  );
  // For the conformance kit against the dev adapters (dev.json broker_signing_key): dev only, owner only.
  const brokerSigningKeyPath = join(dir, "secrets", "broker-signing.pem");
  mkdirSync(join(dir, "secrets"), { recursive: true, mode: 0o700 });
  writeFileSync(brokerSigningKeyPath, signingKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });

  const definitions = (options.agencies ?? exampleAgencies)(population);
  const connectorCerts = new Map(
    definitions.map((def) => [
      def.agency,
      issueIdentity(`connector-${def.agency}`, {
        role: "connector",
        spiffeId: devConnectorId(def.agency),
        commonName: `${def.agency} connector (dev)`,
      }),
    ]),
  );
  // A nats-server the caller started (natsUrl) is configured by the caller.
  const natsAuth = options.natsAuth !== false && options.natsUrl === undefined;
  let extraConfig = "";
  // The admin identity makes the log stream and the consent bucket before the broker starts; the broker's
  // own identity may not create, change, purge or delete streams (nats-auth.ts).
  const adminCert = natsAuth
    ? issueIdentity("admin", { role: "admin", spiffeId: DEV_ADMIN, commonName: "xbus admin (dev)" })
    : undefined;
  if (natsAuth) {
    const natsCert = issueIdentity("nats", { role: "server", commonName: "nats-server (dev)", ...LOOPBACK });
    extraConfig = natsAuthConfig({
      tls: { certFile: natsCert.certPath, keyFile: natsCert.keyPath, caFile: caPath },
      identities: [
        DEV_ADMIN,
        DEV_LOG,
        brokerCert.spiffeId ?? "",
        ...[...connectorCerts.values()].map((c) => c.spiffeId ?? ""),
      ],
    });
  }
  const logMaxBytes = options.logLimits?.maxBytes;
  const spawned =
    options.natsUrl || options.natsCluster
      ? undefined
      : await NatsServer.start({
          extraConfig,
          ...(options.natsMonitor ? { monitor: true } : {}),
          // A log larger than the default's needs a store to match, with room for the consent bucket.
          ...(logMaxBytes !== undefined &&
            logMaxBytes > DEFAULT_MAX_STREAM_BYTES && {
              maxFileStoreBytes: logMaxBytes + DEFAULT_MAX_STREAM_BYTES,
            }),
        });
  const nats = spawned ?? { url: options.natsCluster?.urls[0] ?? (options.natsUrl as string) };
  const servers = options.natsCluster ? [...options.natsCluster.urls] : nats.url;
  const replicas = options.natsCluster?.replicas ?? 1;
  // Identities as PEM, never their files: the broker's follows the renewals its TLS watcher takes
  // (brokerNatsTls below); the others keep what the stack issued them at start.
  const natsOptions = (
    tls: NatsTlsInForce | undefined,
    name?: string,
    extra: Partial<ConnectionOptions> = {},
    to: string | readonly string[] = servers,
  ) =>
    natsClientOptions({
      servers: typeof to === "string" ? to : [...to],
      ...(name ? { name } : {}),
      extra,
      ...(natsAuth && tls ? { tls } : {}),
    });
  const natsConnect = (
    identity?: NatsIdentity,
    name?: string,
    extra: Partial<ConnectionOptions> = {},
    to: string | readonly string[] = servers,
  ) =>
    connectComponent(
      natsOptions(
        identity && natsTlsInForce({ ca: trustBundle, cert: identity.cert, key: identity.key }),
        name,
        extra,
        to,
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
    if (adminCert) {
      const adminNc = await natsConnect(adminCert, "xbus-admin-dev");
      await initFederation(adminNc, {
        replicas,
        ...(logMaxBytes !== undefined && { logMaxBytes }),
      }).finally(() => adminNc.close());
    }
    const brokerNc = await connectComponent(
      natsOptions(brokerNatsTls, "xbus-broker-dev", { noAsyncTraces: true }),
    );
    closers.push(() => brokerNc.close());
    countNatsReconnects(brokerNc, telemetry.metrics, "broker");
    const running = await startAgencies({
      definitions,
      identities,
      connectorCerts,
      natsConnect: (identity, extra, agency) =>
        natsConnect(identity, undefined, extra, options.agencyNats?.get(agency) ?? servers),
      connectors: options.connectors ?? "started",
      inProcessAdapter: options.inProcessAdapter ?? false,
      brokerKeys: [brokerPublicKey, ...(options.otherBrokerKeys ?? [])],
      logger,
      telemetry,
      closers,
    });
    const agencyRunner = (agency: string) => {
      const r = running.get(agency);
      if (!r) throw new Error(`agency ${agency} is not running in this stack`);
      return r;
    };

    // The exchange log: JetStream stream (truth) → indexer → SQLite, and the review API over it.
    // Against a nats-server that keeps its store, the log's secrets and index are kept and resumed.
    const resume = spawned === undefined && options.natsCluster?.fresh !== true;
    const log = logSecrets(dir, resume);
    makePrivateFile(log.indexPath);
    writeFileSync(
      join(identities.certDir, "log-key.pub.pem"),
      log.logPublicKey.export({ type: "spki", format: "pem" }),
    );
    const vkey = logVkey(LOG_ID, rawEd25519(log.logPublicKey));
    const witnesses = await startDevWitnesses(dir, options.witnesses ?? 0, vkey, log.kept, logger);
    closers.push(() => witnesses.close());
    const token = randomBytes(24).toString("base64url");
    const brokerFiles = { ca: caPath, cert: brokerCert.certPath, key: brokerCert.keyPath };
    // What every broker of this stack shares: the CA, the broker identity, policies, the log's id and secret.
    const brokerBase = {
      replicas,
      tls: brokerTls,
      tlsFiles: brokerFiles,
      // The checks `xbus broker` runs at start and on a reload, though the stack issued the first certificate.
      checkTls: brokerTlsCheck(TRUST_DOMAIN, brokerFiles, DEV_BROKER),
      crlPath: caDir.paths.crl,
      catalogue,
      policy,
      trustDomain: TRUST_DOMAIN,
      log: { logId: LOG_ID, logSecret: log.logSecret },
      ...(options.observe ? { observe: options.observe } : {}),
      logger,
      telemetry,
    };
    const reviewOptions = {
      tokenHashes: [tokenHash(token)],
      traceUrlTemplate: options.traceUrlTemplate ?? process.env.XBUS_TRACE_URL,
      now: options.clock,
    };
    const services = await startBrokerServices({
      ...brokerBase,
      nats: brokerNc,
      ...(brokerNatsTls ? { natsTls: brokerNatsTls } : {}),
      indexerNatsOptions: natsOptions(undefined, "xbus-indexer-dev", { noAsyncTraces: true }),
      brokerId: "dev",
      signingKey,
      ...(options.logLimits && { logLimits: options.logLimits }),
      // One process: the log service (indexer, signer through the KV lock, review API) runs beside the
      // broker, wired as `xbus log serve` wires it.
      ...(options.logService !== "elsewhere" && {
        logService: {
          logKey: log.logKey,
          indexPath: log.indexPath,
          review: { ...reviewListen(options.review, issueIdentity), ...reviewOptions },
          ...(witnesses.policy && {
            witnessing: { policy: witnesses.policy, ca: trustBundle, ...options.witnessing },
          }),
        },
      }),
      ...(options.recorder ? { recorder: options.recorder } : {}),
    });
    closers.push(() => services.close());
    // A part on a NATS connection of its own, stopped (once) with the stack or before it.
    const onOwnConnection = async <T extends { close(): Promise<void> }>(
      name: string,
      tls: NatsTlsInForce | undefined,
      start: (nc: NatsConnection) => Promise<T>,
    ): Promise<{ started: T; stop: () => Promise<void> }> => {
      const nc = await connectComponent(natsOptions(tls, name, { noAsyncTraces: true }));
      const started = await start(nc).catch(async (err: unknown) => {
        await nc.close();
        throw err;
      });
      let closed = false;
      const stop = async () => {
        if (closed) return;
        closed = true;
        await started.close();
        await nc.close();
      };
      closers.push(stop);
      return { started, stop };
    };
    const extraBrokers: BrokerServices[] = [];
    const addBroker = async (o: { brokerId: string; signingKey: KeyObject }): Promise<ExtraBroker> => {
      const { started, stop } = await onOwnConnection(`xbus-broker-${o.brokerId}`, brokerNatsTls, (nc) =>
        startBrokerServices({
          ...brokerBase,
          nats: nc,
          ...(brokerNatsTls ? { natsTls: brokerNatsTls } : {}),
          brokerId: o.brokerId,
          signingKey: o.signingKey,
        }),
      );
      extraBrokers.push(started);
      return { brokerId: o.brokerId, address: `localhost:${started.broker.port}`, close: stop };
    };
    const addLogService = async (name: string, o: { leaseMs?: number } = {}): Promise<ExtraLogService> => {
      if (!/^[a-z0-9-]{1,32}$/.test(name))
        throw new Error(`a log service's name is [a-z0-9-]{1,32}, not ${JSON.stringify(name)}`);
      const indexPath = join(dir, `log-index-${name}.sqlite`);
      if (!resume) for (const suffix of ["", "-wal", "-shm"]) rmSync(indexPath + suffix, { force: true });
      makePrivateFile(indexPath);
      // Its own identity on NATS (role `log`): it may read the log and swap the signed head, not append or route.
      const logCert = natsAuth
        ? issueIdentity(`log-${name}`, {
            role: "log",
            spiffeId: DEV_LOG,
            commonName: `xbus log ${name} (dev)`,
          })
        : undefined;
      const logTls = logCert && natsTlsInForce({ ca: trustBundle, cert: logCert.cert, key: logCert.key });
      const { started, stop } = await onOwnConnection(`xbus-log-${name}`, logTls, (nc) =>
        startLogService({
          nats: nc,
          ...(logTls ? { natsTls: logTls } : {}),
          indexerNatsOptions: natsOptions(undefined, `xbus-indexer-${name}`, { noAsyncTraces: true }),
          logId: LOG_ID,
          logSecret: log.logSecret,
          logKey: log.logKey,
          indexPath,
          signer: { holder: `dev-${name}`, ...(o.leaseMs !== undefined ? { leaseMs: o.leaseMs } : {}) },
          review: reviewOptions,
          ...(witnesses.policy && {
            witnessing: { policy: witnesses.policy, ca: trustBundle, ...options.witnessing },
          }),
          logger: logger.child({ component: `log-${name}` }),
          telemetry,
        }),
      );
      return { reviewUrl: started.reviewUrl, close: stop };
    };
    const { broker, index } = services;
    const metrics = await serveMetrics(telemetry, {
      ready: () => ({ nats: { ok: !brokerNc.isClosed() } }),
    });
    closers.push(() => metrics.close());
    const review = services.reviewUrl === undefined ? undefined : { url: services.reviewUrl, token };
    const notifications =
      options.notify && index
        ? startCitizenNotifications({
            dir,
            index,
            nats: brokerNc,
            logSecret: log.logSecret,
            now: options.clock ?? Date.now,
            logger: logger.child({ component: "citizen-notify" }),
            options: options.notify,
          })
        : undefined;
    if (notifications) closers.push(() => notifications.close());
    let citizen: CitizenPageJson | undefined;
    if (options.citizenPage && index) {
      const page = await startCitizenPage({
        index,
        logPublicKey: log.logPublicKey,
        logSecret: log.logSecret,
        policy,
        population,
        logger,
        ...(options.clock ? { now: options.clock } : {}),
        ...(notifications ? { notifications: notifications.store } : {}),
      });
      closers.push(() => page.close());
      citizen = { url: page.url, issuer: page.issuer, users: page.users };
    }

    return {
      dir,
      ca: identities.ca,
      caPath,
      caDir,
      crlPath: caDir.paths.crl,
      reloadCrl: () => {
        // Every holder of the CRL in this stack: the broker and the adapters behind gRPC.
        let changed = broker.reloadCrl();
        for (const b of extraBrokers) changed = b.broker.reloadCrl() || changed;
        for (const r of running.values()) changed = r.reloadCrl() || changed;
        return changed;
      },
      reloadBrokerTls: () => broker.reloadTls(),
      adminCert,
      brokerCert,
      nats,
      natsServer: spawned,
      natsConnect,
      natsAuth,
      brokerAddress: `localhost:${broker.port}`,
      consumer,
      consumers: [consumer, licensing, portal],
      population,
      catalogue,
      brokerPublicKey,
      brokerSigningKey: signingKey,
      brokerSigningKeyPath,
      policy,
      logPublicKey: log.logPublicKey,
      index,
      review,
      citizen,
      telemetry,
      metricsUrl: metrics.url,
      logFiles: { index: log.indexPath, key: log.keyPath, log_id: LOG_ID },
      logSecretPath: log.secretPath,
      logVkey: vkey,
      witnesses: witnesses.list,
      witnessPolicyPath: witnesses.policyPath,
      stopWitness: witnesses.stop,
      witnessing: services.logService?.witnessing,
      adapters: [...running].map(([agency, r]) => ({ agency, address: r.address, client: r.client })),
      adapterClient: identities.pemOf(running.size > 0 ? `connector-${definitions[0]?.agency}` : "consumer"),
      issue: identities.issue,
      issueIdentity,
      startConnector: (agency = "dcrc") => agencyRunner(agency).start(),
      stopConnector: (agency = "dcrc") => agencyRunner(agency).stop(),
      addBroker,
      addLogService,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * `n` witnesses on loopback (startWitnessService), each with its key and state in `<dir>/witnesses/wI`
 * (keys kept across runs, so their vkeys stay; state kept only while the log resumes, since a new log
 * would otherwise look like a fork), and the tlog-policy that asks for all of them.
 */
async function startDevWitnesses(dir: string, n: number, vkey: string, logKept: boolean, logger: Logger) {
  const running: { name: string; service: WitnessService }[] = [];
  const close = async () => {
    for (const w of running.splice(0)) await w.service.close();
  };
  if (n === 0) return { list: [], policy: undefined, policyPath: undefined, close, stop: async () => {} };
  try {
    for (let i = 1; i <= n; i++) {
      const stateDir = join(dir, "witnesses", `w${i}`);
      if (!logKept) rmSync(join(stateDir, WITNESS_STATE_FILE), { force: true });
      const service = await startWitnessService({
        name: `witness-${i}.dev.xbus`,
        stateDir,
        logVkeys: [vkey],
        logger: logger.child({ component: `witness-${i}` }),
      });
      running.push({ name: `W${i}`, service });
    }
  } catch (err) {
    await close();
    throw err;
  }
  const list = running.map((w) => ({ name: w.name, url: w.service.url, vkey: w.service.vkey }));
  const text = [
    "# The dev stack's witness policy (C2SP tlog-policy): which dev witnesses' cosignatures a checkpoint needs.",
    `log ${vkey}`,
    ...list.map((w) => `witness ${w.name} ${w.vkey} ${w.url}`),
    // Two must both cosign; of three or more (xbus dev --cluster), all but one, so one may be down.
    `group dev-witnesses ${n <= 2 ? "all" : n - 1} ${list.map((w) => w.name).join(" ")}`,
    "quorum dev-witnesses",
    "",
  ].join("\n");
  const policyPath = join(dir, "witness-policy.txt");
  writeFileSync(policyPath, text);
  return {
    list,
    policy: parseWitnessPolicy(text),
    policyPath,
    close,
    stop: async (name: string) => {
      const at = running.findIndex((w) => w.name === name);
      if (at < 0) throw new Error(`no witness ${name} runs in this stack`);
      const [w] = running.splice(at, 1);
      await w?.service.close();
    },
  };
}

/**
 * StackOptions.review as the log service's listen settings; with `tls`, a `server` certificate from the
 * stack's CA (as the broker's own identity is issued) for the hostname and loopback.
 */
function reviewListen(
  o: StackOptions["review"],
  issueIdentity: Identities["issueIdentity"],
): { hostname?: string; port?: number; tls?: { cert: string; key: string }; allowInsecureHttp?: boolean } {
  if (!o) return {};
  const hostname = o.hostname;
  let tls: { cert: string; key: string } | undefined;
  if (o.tls) {
    const named = hostname === undefined || isIP(hostname) === 0 ? [] : [hostname];
    const pair = issueIdentity("review", {
      role: "server",
      commonName: "xbus review API (dev)",
      dnsNames: [...LOOPBACK.dnsNames, ...(hostname !== undefined && isIP(hostname) === 0 ? [hostname] : [])],
      ipAddresses: [...new Set([...LOOPBACK.ipAddresses, ...named])],
    });
    tls = { cert: pair.cert, key: pair.key };
  }
  return {
    ...(hostname !== undefined ? { hostname } : {}),
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(tls ? { tls } : {}),
    ...(o.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
  };
}
