import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import {
  type Broker,
  type BrokerOptions,
  createReviewApp,
  DEFAULT_SUBJECT_ID_PATTERN,
  type ExchangeOutcome,
  type ExchangeRecorder,
  indexReadiness,
  type LogIndexReader,
  openConsentStore,
  openExchangeLog,
  serveReview,
  startBroker,
  startIndexerWorker,
} from "../broker/index.js";
import type { AlertOptions } from "../broker/review/alerts.js";
import type { Catalogue } from "../core/contract/index.js";
import type { Logger } from "../core/index.js";
import type { NatsTlsInForce } from "../core/nats/index.js";
import type { Telemetry } from "../core/telemetry/index.js";
import type { PolicySource } from "../policies/index.js";

/**
 * The broker's side of the bus on one NATS connection, wired the same for
 * `xbus dev` (stack/dev-stack.ts) and `xbus broker`: the consent store, the
 * exchange log (JetStream stream, indexer worker, SQLite index), the review
 * API over it, and the broker's gRPC front door.
 */
export interface BrokerServicesOptions {
  /** The broker's connection: routing, the log's appends, consents. */
  nats: NatsConnection;
  /**
   * The identity `nats` presents, when NATS runs TLS: the broker's own (as
   * `tls`). A renewal the broker takes from tlsFiles renews it, so `nats` and
   * the indexer's connection present it from their next reconnect, and a set
   * the broker refused never reaches NATS.
   */
  natsTls?: NatsTlsInForce;
  /** The indexer worker's own connection, as plain data without TLS: it presents `natsTls`. */
  indexerNatsOptions: ConnectionOptions;
  tls: BrokerOptions["tls"];
  tlsFiles?: BrokerOptions["tlsFiles"];
  /** Refuses a reloaded set of tlsFiles that the broker would not start with. */
  checkTls?: BrokerOptions["checkTls"];
  crlPath?: string;
  /** host:port of the Exchange front door; default `localhost:0`. */
  listen?: string;
  catalogue: Catalogue;
  policy: PolicySource;
  trustDomain: string;
  brokerId: string;
  /** Ed25519: signs routed requests and receipts. */
  signingKey: KeyObject;
  log: {
    logId: string;
    /** HMAC key of subject references. */
    logSecret: Uint8Array;
    /** Ed25519: signs tree heads. */
    logKey: KeyObject;
    indexPath: string;
  };
  /** Replaces the exchange log and the review API (tests). */
  recorder?: ExchangeRecorder;
  /** Sees every outcome just before it is logged (tests). */
  observe?: (outcome: ExchangeOutcome) => void;
  review: {
    hostname?: string;
    port?: number;
    /** Lowercase hex SHA-256 of each accepted bearer token. */
    tokenHashes: readonly string[];
    traceUrlTemplate?: string | undefined;
    /** Thresholds of GET /v1/alerts; the defaults when absent. */
    alerts?: AlertOptions | undefined;
    /** The clock embargoes are judged by (GET /v1/oversight/embargoes); default Date.now. */
    now?: (() => number) | undefined;
  };
  logger: Logger;
  telemetry: Telemetry;
}

export interface BrokerServices {
  readonly broker: Broker;
  /** The log's index, read-only; undefined when a recorder replaced the log. */
  readonly index: LogIndexReader | undefined;
  /** The review API's base URL; undefined when a recorder replaced the log. */
  readonly reviewUrl: string | undefined;
  /** Stops the front door first, then the review API, the indexer and the consent store. */
  close(): Promise<void>;
}

export async function startBrokerServices(o: BrokerServicesOptions): Promise<BrokerServices> {
  const { logger, telemetry } = o;
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse())
      await c().catch((err: unknown) => logger.warn({ err }, "shutdown step failed"));
    closers.length = 0;
  };
  try {
    const consents = await openConsentStore({ nc: o.nats, logger: logger.child({ component: "consent" }) });
    closers.push(() => consents.close());
    let recorder: ExchangeRecorder;
    let index: LogIndexReader | undefined;
    let reviewUrl: string | undefined;
    if (o.recorder) {
      recorder = o.recorder;
    } else {
      const log = await openExchangeLog({
        nats: o.nats,
        logId: o.log.logId,
        brokerId: o.brokerId,
        logSecret: o.log.logSecret,
        signingKey: o.signingKey,
        logger: logger.child({ component: "log" }),
      });
      // The indexer runs in a worker thread with its own NATS connection (as the broker, which may
      // consume the log stream): its SQLite writes and signing take another core than the broker's.
      const indexer = await startIndexerWorker({
        nats: o.nats,
        natsOptions: o.indexerNatsOptions,
        ...(o.natsTls ? { natsTls: o.natsTls } : {}),
        indexPath: o.log.indexPath,
        logId: o.log.logId,
        logKey: o.log.logKey,
        logger: logger.child({ component: "indexer" }),
      });
      closers.push(() => indexer.stop());
      index = indexer.index;
      telemetry.metrics.watchIndexLag(() => indexer.lag());
      const app = createReviewApp({
        index: indexer.index,
        logPublicKey: createPublicKey(o.log.logKey),
        tokenHashes: o.review.tokenHashes,
        logSecret: o.log.logSecret,
        subjectIdPattern: DEFAULT_SUBJECT_ID_PATTERN,
        ready: async () => {
          return {
            nats: { ok: !o.nats.isClosed() },
            index_lag: await indexReadiness(indexer),
          };
        },
        metrics: () => telemetry.prometheusText(),
        traceUrlTemplate: o.review.traceUrlTemplate,
        ...(o.review.alerts ? { alerts: o.review.alerts } : {}),
        ...(o.review.now ? { now: o.review.now } : {}),
        logger: logger.child({ component: "review" }),
      });
      const server = await serveReview(app, {
        ...(o.review.hostname !== undefined ? { hostname: o.review.hostname } : {}),
        ...(o.review.port !== undefined ? { port: o.review.port } : {}),
      });
      closers.push(() => server.close());
      reviewUrl = server.url;
      recorder = log;
    }
    const observe = o.observe;
    const observed: ExchangeRecorder = observe
      ? {
          record: (outcome, opts) => {
            observe(outcome);
            return recorder.record(outcome, opts);
          },
        }
      : recorder;

    const broker = await startBroker({
      ...(o.listen !== undefined ? { listen: o.listen } : {}),
      tls: o.tls,
      ...(o.tlsFiles !== undefined ? { tlsFiles: o.tlsFiles } : {}),
      ...(o.checkTls !== undefined ? { checkTls: o.checkTls } : {}),
      onTlsChange: (tls) => o.natsTls?.renew(tls),
      ...(o.crlPath !== undefined ? { crlPath: o.crlPath } : {}),
      nats: o.nats,
      catalogue: o.catalogue,
      policy: o.policy,
      consents,
      recorder: observed,
      trustDomain: o.trustDomain,
      brokerId: o.brokerId,
      signingKey: o.signingKey,
      logger: logger.child({ component: "broker" }),
      telemetry,
    });
    closers.push(() => broker.close());
    // The certificate in force, so the gauge follows a reload.
    telemetry.metrics.watchCertificate("broker", () => broker.certificateExpiry().notAfter);
    return { broker, index, reviewUrl, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** What the review API keeps of a bearer token. */
export const tokenHash = (token: string): string => createHash("sha256").update(token).digest("hex");
