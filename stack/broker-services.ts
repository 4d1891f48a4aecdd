import { createHash, type KeyObject } from "node:crypto";
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import {
  type Broker,
  type BrokerOptions,
  createSharedRateLimiter,
  type ExchangeOutcome,
  type ExchangeRecorder,
  type LogIndexReader,
  openConsentStore,
  openExchangeLog,
  type RateLimiter,
  startBroker,
} from "../broker/index.js";
import type { Catalogue } from "../core/contract/index.js";
import type { Logger } from "../core/index.js";
import type { NatsTlsInForce } from "../core/nats/index.js";
import type { Telemetry } from "../core/telemetry/index.js";
import type { PolicySource } from "../policies/index.js";
import { type LogService, type LogServiceOptions, startLogService } from "./log-service.js";

/**
 * The broker's side of the bus on one NATS connection, wired the same for
 * `xbus dev` (stack/dev-stack.ts) and `xbus broker`: the consent store, the
 * exchange log's writer (appends to the JetStream stream, receipts) and the
 * broker's gRPC front door. With `logService`, the log service (indexer,
 * signer, review API: stack/log-service.ts) runs in the same process, as one
 * `xbus broker` did before `xbus log serve`; without it the broker holds no log
 * key and no index, and a log service elsewhere indexes and signs.
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
  /** The indexer worker's own connection (logService), as plain data without TLS: it presents `natsTls`. */
  indexerNatsOptions?: ConnectionOptions;
  tls: BrokerOptions["tls"];
  tlsFiles?: BrokerOptions["tlsFiles"];
  /** Refuses a reloaded set of tlsFiles that the broker would not start with. */
  checkTls?: BrokerOptions["checkTls"];
  crlPath?: string;
  /** host:port of the Exchange front door; default `localhost:0`. */
  listen?: string;
  /** Replicas XBUS_LOG and the consent bucket must have; default 1. */
  replicas?: number;
  catalogue: Catalogue;
  policy: PolicySource;
  trustDomain: string;
  brokerId: string;
  /** Ed25519: signs routed requests and receipts. */
  signingKey: KeyObject;
  /** Accept replies no connector signed (BrokerOptions.allowUnsignedReplies). Default false. */
  allowUnsignedReplies?: boolean;
  log: {
    logId: string;
    /** HMAC key of subject references. */
    logSecret: Uint8Array;
  };
  /** Runs the log service in this process too (its key, index, signer, review API). */
  logService?: Pick<
    LogServiceOptions,
    "logKey" | "indexPath" | "signer" | "treeHeadEveryMs" | "review" | "witnessing"
  >;
  /**
   * Grants' rates: `federation` (the default) leases tokens from the KV bucket every broker shares
   * (createSharedRateLimiter); `broker` keeps them in this broker's memory (N brokers, N times the rate).
   */
  rates?: "federation" | "broker" | RateLimiter;
  /** The log stream's max_bytes and the retry queue's bound (broker/log/jetstream-log.ts); defaults when absent. */
  logLimits?: { maxBytes?: number; retryQueueBytes?: number };
  /** Replaces the exchange log and the review API (tests). */
  recorder?: ExchangeRecorder;
  /** Sees every outcome just before it is logged (tests). */
  observe?: (outcome: ExchangeOutcome) => void;
  logger: Logger;
  telemetry: Telemetry;
}

export interface BrokerServices {
  readonly broker: Broker;
  /** The log's index, read-only; undefined without an in-process log service. */
  readonly index: LogIndexReader | undefined;
  /** The review API's base URL; undefined without an in-process log service. */
  readonly reviewUrl: string | undefined;
  /** The in-process log service, if any. */
  readonly logService: LogService | undefined;
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
    const consents = await openConsentStore({
      nc: o.nats,
      ...(o.replicas ? { replicas: o.replicas } : {}),
      logger: logger.child({ component: "consent" }),
    });
    closers.push(() => consents.close());
    let recorder: ExchangeRecorder;
    let index: LogIndexReader | undefined;
    let reviewUrl: string | undefined;
    let logService: LogService | undefined;
    if (o.recorder) {
      recorder = o.recorder;
    } else {
      const log = await openExchangeLog({
        nats: o.nats,
        logId: o.log.logId,
        brokerId: o.brokerId,
        logSecret: o.log.logSecret,
        signingKey: o.signingKey,
        ...(o.replicas ? { replicas: o.replicas } : {}),
        metrics: telemetry.metrics.log,
        ...(o.logLimits?.maxBytes !== undefined ? { maxStreamBytes: o.logLimits.maxBytes } : {}),
        ...(o.logLimits?.retryQueueBytes !== undefined
          ? { retryQueueBytes: o.logLimits.retryQueueBytes }
          : {}),
        logger: logger.child({ component: "log" }),
      });
      if (o.logService) {
        if (!o.indexerNatsOptions)
          throw new Error("startBrokerServices: logService needs indexerNatsOptions");
        logService = await startLogService({
          ...o.logService,
          nats: o.nats,
          ...(o.natsTls ? { natsTls: o.natsTls } : {}),
          indexerNatsOptions: o.indexerNatsOptions,
          logId: o.log.logId,
          logSecret: o.log.logSecret,
          logger,
          telemetry,
        });
        const service = logService;
        closers.push(() => service.close());
        index = service.index;
        reviewUrl = service.reviewUrl;
      }
      recorder = log;
    }
    const rates =
      o.rates === "broker"
        ? undefined
        : o.rates === undefined || o.rates === "federation"
          ? await createSharedRateLimiter({ nats: o.nats, logger: logger.child({ component: "rates" }) })
          : o.rates;
    const observe = o.observe;
    const observed: ExchangeRecorder = observe
      ? {
          ...(recorder.admit ? { admit: () => recorder.admit?.() } : {}),
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
      ...(rates ? { rates } : {}),
      recorder: observed,
      trustDomain: o.trustDomain,
      brokerId: o.brokerId,
      signingKey: o.signingKey,
      ...(o.allowUnsignedReplies ? { allowUnsignedReplies: true } : {}),
      logger: logger.child({ component: "broker" }),
      telemetry,
    });
    closers.push(() => broker.close());
    // The certificate in force, so the gauge follows a reload.
    telemetry.metrics.watchCertificate("broker", () => broker.certificateExpiry().notAfter);
    return { broker, index, reviewUrl, logService, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** What the review API keeps of a bearer token. */
export const tokenHash = (token: string): string => createHash("sha256").update(token).digest("hex");
