import { type KeyObject, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import {
  DEFAULT_SUBJECT_ID_PATTERN,
  type IndexerThread,
  indexReadiness,
  type LogIndexReader,
  startIndexerWorker,
  startReviewWorker,
} from "../broker/index.js";
import type { AlertOptions } from "../broker/review/alerts.js";
import type { Logger } from "../core/index.js";
import type { NatsTlsInForce } from "../core/nats/index.js";
import type { Telemetry } from "../core/telemetry/index.js";

/** How long a signer's lease lasts unrenewed before a standby takes over (README, "Log service"). */
export const DEFAULT_LEASE_MS = 3000;

/**
 * The log service (`xbus log serve`, and `xbus dev` in its own process): follows the log stream
 * into its SQLite index in a worker thread, signs tree heads with the log's key through the KV lock
 * (one signer at a time: the lease; no head that does not extend the last: the compare-and-swap), and
 * serves the review API over its index. A broker holds none of this: no log key, no index.
 */
export interface LogServiceOptions {
  /** This process's connection: the indexer's lag, readiness. */
  nats: NatsConnection;
  /** The identity the indexer's own connection presents, when NATS runs TLS. */
  natsTls?: NatsTlsInForce;
  /** The indexer worker's own connection, as plain data without TLS. */
  indexerNatsOptions: ConnectionOptions;
  logId: string;
  /** HMAC key of subject references: the review API turns a citizen ID into its reference. */
  logSecret: Uint8Array;
  /** Ed25519: signs tree heads. Only the log service holds it. */
  logKey: KeyObject;
  indexPath: string;
  signer?: {
    /** This instance's name in the lease; default host, pid and a random part. */
    holder?: string;
    /** Default DEFAULT_LEASE_MS. */
    leaseMs?: number;
    /** KV bucket of the head and lease; default XBUS_LOG_HEAD. */
    bucket?: string;
  };
  /** A signing round this often (ms); default 1000. */
  treeHeadEveryMs?: number;
  review: {
    hostname?: string;
    port?: number;
    /** Lowercase hex SHA-256 of each accepted bearer token. */
    tokenHashes: readonly string[];
    traceUrlTemplate?: string | undefined;
    alerts?: AlertOptions | undefined;
    /** The server's certificate and key, PEM (a `server` certificate from the federation's CA). */
    tls?: { cert: string; key: string } | undefined;
    /** Plain HTTP on an address that is not loopback (review.allow_insecure_http). */
    allowInsecureHttp?: boolean | undefined;
    /** The clock embargoes are judged by (GET /v1/oversight/embargoes); default Date.now. */
    now?: (() => number) | undefined;
  };
  logger: Logger;
  telemetry: Telemetry;
}

export interface LogService {
  /** The index, read-only (the review API's, the citizen page's). */
  readonly index: LogIndexReader;
  readonly indexer: IndexerThread;
  readonly reviewUrl: string;
  /** Stops the review API, then the indexer (a last signing round, the lease given up). */
  close(): Promise<void>;
}

export async function startLogService(o: LogServiceOptions): Promise<LogService> {
  const { logger, telemetry } = o;
  const leaseMs = o.signer?.leaseMs ?? DEFAULT_LEASE_MS;
  const indexer = await startIndexerWorker({
    nats: o.nats,
    natsOptions: o.indexerNatsOptions,
    ...(o.natsTls ? { natsTls: o.natsTls } : {}),
    indexPath: o.indexPath,
    logId: o.logId,
    logKey: o.logKey,
    logger: logger.child({ component: "indexer" }),
    ...(o.treeHeadEveryMs !== undefined && { treeHeadEveryMs: o.treeHeadEveryMs }),
    signer: {
      holder: o.signer?.holder ?? `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`,
      leaseMs,
      ...(o.signer?.bucket !== undefined && { bucket: o.signer.bucket }),
    },
  });
  try {
    telemetry.metrics.watchIndexLag(() => indexer.lag());
    // Its own thread: a reviewer's query never runs on this event loop (in `xbus broker` and `xbus dev`,
    // the one that routes exchanges). Metrics are not served here (README, "Metrics").
    const server = await startReviewWorker({
      indexPath: o.indexPath,
      logId: o.logId,
      logKey: o.logKey,
      logSecret: o.logSecret,
      tokenHashes: o.review.tokenHashes,
      subjectIdPattern: DEFAULT_SUBJECT_ID_PATTERN,
      traceUrlTemplate: o.review.traceUrlTemplate,
      alerts: o.review.alerts,
      listen: {
        ...(o.review.hostname !== undefined ? { hostname: o.review.hostname } : {}),
        ...(o.review.port !== undefined ? { port: o.review.port } : {}),
        ...(o.review.tls ? { tls: o.review.tls } : {}),
        ...(o.review.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
      },
      ready: async () => ({
        nats: { ok: !o.nats.isClosed() },
        index_lag: await indexReadiness(indexer),
        signer: { ok: indexer.halted() === undefined, detail: indexer.role() ?? "starting" },
      }),
      now: o.review.now,
      logger: logger.child({ component: "review" }),
    });
    return {
      index: indexer.index,
      indexer,
      reviewUrl: server.url,
      async close() {
        await server.close().catch((err: unknown) => logger.warn({ err }, "review API close failed"));
        await indexer.stop();
      },
    };
  } catch (err) {
    await indexer.stop();
    throw err;
  }
}
