import type { KeyObject } from "node:crypto";
import { Server } from "@grpc/grpc-js";
import type { NatsConnection } from "@nats-io/transport-node";
import { type CertificateExpiry, type CrlWatcher, logCertificateExpiry, watchCrl } from "../certs/index.js";
import type { Catalogue } from "../core/contract/index.js";
import type { Logger } from "../core/index.js";
import { XbusError } from "../core/index.js";
import { serviceDefinition, serviceImplementation } from "../core/rpc/index.js";
import type { Telemetry } from "../core/telemetry/index.js";
import {
  peerCertificateOf,
  ReloadableServerCredentials,
  type TlsFilePaths,
  type TlsFilesWatcher,
  watchTlsFiles,
} from "../core/tls/index.js";
import { grantsFor, type PolicySource } from "../policies/index.js";
import { Consent } from "../proto/gen/xbus/v1/consent_pb.js";
import { Exchange } from "../proto/gen/xbus/v1/exchange_pb.js";
import { consentHandlers } from "./consent/consent-service.js";
import type { ConsentStore } from "./consent/consent-store.js";
import { fetchExchange } from "./exchange/fetch.js";
import type { ExchangeRecorder } from "./exchange/outcome.js";
import { createRateLimiter, type RateLimiter } from "./exchange/rate-limiter.js";
import { createReplyCheck } from "./exchange/reply-check.js";
import { identifyPeer } from "./identity/peer-identity.js";
import { createNatsRouter } from "./routing/nats-router.js";

export interface BrokerTls {
  /** PEM of the federation CA (trust bundle; may hold more than one CA during a rollover). */
  ca: string;
  cert: string;
  key: string;
}

export interface BrokerOptions {
  /** host:port to listen on; port 0 picks a free one. Default `localhost:0`. */
  listen?: string;
  tls: BrokerTls;
  /**
   * Where `tls` came from on disk. When given, the broker picks up a renewed
   * certificate and key, or a new trust bundle, when the files change: new
   * connections get them, calls in flight finish on the old ones.
   */
  tlsFiles?: TlsFilePaths;
  /**
   * Checks a set re-read from tlsFiles before it is put in force, and throws
   * to refuse it with a message naming the file and the reason: `xbus broker`
   * and `xbus dev` run their start-up checks (a broker of the trust domain,
   * issued by the bundle, its key, valid now). Without it a reload checks only
   * what OpenSSL does (the key matches the certificate). A refused set is
   * logged once and the identity in force stays.
   */
  checkTls?: (tls: BrokerTls) => void;
  /**
   * Hears each set from tlsFiles once it is in force here (checked, and taken
   * by the TLS context), so that the process's other users of the identity
   * follow it: its NATS connections present it from their next reconnect.
   */
  onTlsChange?: (tls: BrokerTls) => void;
  /**
   * The federation CRL file (PEM; may hold one CRL per CA of the bundle).
   * Loaded at start and reloaded when it changes: new connections from a
   * revoked certificate fail at the handshake, calls on open ones get
   * CERT_REVOKED. Without it nothing is checked for revocation.
   */
  crlPath?: string;
  nats: NatsConnection;
  catalogue: Catalogue;
  /** The bundle in force, e.g. a PolicyStore that reloads on change. */
  policy: PolicySource;
  /** Consents (JetStream key-value bucket with a watched local copy); the broker serves xbus.v1.Consent over it. */
  consents: ConsentStore;
  /** Token buckets kept for grants' rates at most. Default 10 000. */
  maxRateBuckets?: number;
  /** Grants' rates; default per broker in memory. A federation shares one (createSharedRateLimiter). */
  rates?: RateLimiter;
  recorder: ExchangeRecorder;
  trustDomain: string;
  /** Citizen ID format of the trust domain. Default: 11 digits. */
  subjectIdPattern?: RegExp;
  brokerId: string;
  /** Ed25519 key that signs routed requests. */
  signingKey: KeyObject;
  /**
   * Accept records a provider's connector did not sign (logged without a signature): for a migration
   * from connectors that do not sign yet. Default false: an unsigned reply is PROVIDER_BAD_RECORD.
   */
  allowUnsignedReplies?: boolean;
  logger: Logger;
  /** Spans and metrics of each exchange (README, "Observability"); none when absent. */
  telemetry?: Telemetry;
}

export interface Broker {
  readonly port: number;
  /** Re-reads the CRL file now instead of waiting for the file watch; true if it changed. */
  reloadCrl(): boolean;
  /** Re-reads tlsFiles now instead of waiting for the file watch; true if new ones are in force. */
  reloadTls(): boolean;
  /** The broker's own certificate's expiry, for a metrics gauge. */
  certificateExpiry(): CertificateExpiry;
  close(): Promise<void>;
}

export const DEFAULT_SUBJECT_ID_PATTERN = /^[0-9]{11}$/;
const MAX_MESSAGE_BYTES = 64 * 1024;
const RAW_REQUESTS = ["fetch"] as const;

/** Starts the broker's gRPC front door (xbus.v1.Exchange) with mutual TLS. */
export async function startBroker(o: BrokerOptions): Promise<Broker> {
  const logger = o.logger;
  let tls: BrokerTls = { ...o.tls };
  const tlsOptions = () => ({
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    ...(crl ? { crl: [...crl.blocks] } : {}),
  });
  const expiryLog = logger.child({ part: "tls" });
  let expiry = logCertificateExpiry(expiryLog, tls.cert);
  // A long-running broker is told again each day, so the warning comes while there is time to act.
  const expiryTimer = setInterval(() => {
    expiry = logCertificateExpiry(expiryLog, tls.cert);
  }, 86_400_000);
  expiryTimer.unref();
  let creds: ReloadableServerCredentials | undefined;
  const crl: CrlWatcher | undefined = o.crlPath
    ? watchCrl({
        path: o.crlPath,
        caPem: () => tls.ca,
        logger: logger.child({ part: "crl" }),
        onChange: () => creds?.update(tlsOptions()),
      })
    : undefined;
  const isRevoked = (serial: string) => crl?.isRevoked(serial) ?? false;
  const deps = {
    catalogue: o.catalogue,
    policy: () => o.policy.current(),
    consents: o.consents,
    rates: o.rates ?? createRateLimiter({ maxBuckets: o.maxRateBuckets ?? 10_000 }),
    router: createNatsRouter({ nc: o.nats, brokerId: o.brokerId, signingKey: o.signingKey }),
    checkReply: createReplyCheck({
      trustBundle: () => tls.ca,
      isRevoked,
      trustDomain: o.trustDomain,
      ...(o.allowUnsignedReplies ? { allowUnsigned: true } : {}),
    }),
    recorder: o.recorder,
    trustDomain: o.trustDomain,
    subjectIdPattern: o.subjectIdPattern ?? DEFAULT_SUBJECT_ID_PATTERN,
    logger,
    isRevoked,
    telemetry: o.telemetry,
  };
  const server = new Server({
    // Requests are small; refuse big ones before they are parsed.
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.keepalive_permit_without_calls": 1,
  });
  server.addService(
    // Fetch decodes its request itself, so one that does not decode is answered and logged (fetch.ts).
    serviceDefinition(Exchange, RAW_REQUESTS),
    serviceImplementation(
      Exchange,
      {
        fetch: (bytes, call) => fetchExchange(deps, bytes, call),
        listServices: async (_req, call) => {
          const peer = identifyPeer(peerCertificateOf(call), o.trustDomain, isRevoked);
          if (peer.id.role !== "system")
            throw new XbusError("WRONG_ROLE", "only system identities may list services");
          const bundle = o.policy.current();
          return {
            services: grantsFor(bundle, peer.id).map((g) => {
              const entry = o.catalogue.get(g.service);
              return {
                service: g.service,
                recordType: entry?.recordType.typeName ?? "",
                description: entry?.description ?? "",
                purposes: [...g.purposes],
                fields: [...g.fields],
                consentRequired: g.consentRequired,
              };
            }),
          };
        },
      },
      (err, method) => logger.error({ method, err }, "unexpected error in handler"),
      RAW_REQUESTS,
    ),
  );
  server.addService(
    serviceDefinition(Consent),
    serviceImplementation(
      Consent,
      consentHandlers({
        store: o.consents,
        policy: o.policy,
        catalogue: o.catalogue,
        trustDomain: o.trustDomain,
        subjectIdPattern: deps.subjectIdPattern,
        logger: logger.child({ component: "consent" }),
        isRevoked,
      }),
      (err, method) => logger.error({ method, err }, "unexpected error in consent handler"),
    ),
  );
  try {
    creds = new ReloadableServerCredentials(tlsOptions());
  } catch (err) {
    crl?.close();
    clearInterval(expiryTimer);
    throw err;
  }
  const serverCreds = creds;
  const tlsWatcher: TlsFilesWatcher | undefined = o.tlsFiles
    ? watchTlsFiles({
        paths: o.tlsFiles,
        current: tls,
        logger: expiryLog,
        ...(o.checkTls ? { check: o.checkTls } : {}),
        onChange: (next) => {
          serverCreds.update({ ...next, ...(crl ? { crl: [...crl.blocks] } : {}) });
          tls = next;
          expiry = logCertificateExpiry(expiryLog, tls.cert);
          o.onTlsChange?.(next);
        },
      })
    : undefined;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(o.listen ?? "localhost:0", serverCreds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  logger.info({ port, broker_id: o.brokerId }, "broker listening");
  return {
    port,
    reloadCrl: () => crl?.reload() ?? false,
    reloadTls: () => tlsWatcher?.reload() ?? false,
    certificateExpiry: () => expiry,
    close: () =>
      new Promise<void>((resolve) => {
        crl?.close();
        tlsWatcher?.close();
        clearInterval(expiryTimer);
        server.tryShutdown(() => resolve());
        // Calls still running after 5 s are cut so shutdown cannot hang.
        setTimeout(() => server.forceShutdown(), 5000).unref();
      }),
  };
}
