import { type KeyObject, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import {
  checkpointSigner,
  DEFAULT_SUBJECT_ID_PATTERN,
  type IndexerThread,
  indexReadiness,
  type LogIndexReader,
  type ReviewWorker,
  runWitnessing,
  startIndexerWorker,
  startReviewWorker,
  type Witnessing,
  witnessing,
  witnessPost,
} from "../broker/index.js";
import type { AlertOptions } from "../broker/review/alerts.js";
import type { Logger } from "../core/index.js";
import { encodeVkey } from "../core/log-format/index.js";
import type { NatsTlsInForce } from "../core/nats/index.js";
import type { Telemetry } from "../core/telemetry/index.js";
import type { WitnessPolicy } from "../verifier/index.js";

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
  /** Push each checkpoint to witnesses and serve the witnessed one (README, "Witnessing"); default off. */
  witnessing?: WitnessingSettings | undefined;
  logger: Logger;
  telemetry: Telemetry;
}

/** The log service's witnessing: whom to ask, what makes a checkpoint witnessed, when to alert. */
export interface WitnessingSettings {
  /**
   * A C2SP tlog-policy: its `witness <name> <vkey> <url>` lines are the witnesses the log pushes to (a
   * witness line without a URL is trusted but not asked), its quorum makes a checkpoint witnessed.
   */
  policy: WitnessPolicy;
  /** PEM: the CA an https witness's certificate must chain to; default the system's roots. */
  ca?: string | undefined;
  /** A round this often (ms); default 250. */
  everyMs?: number | undefined;
  /** Warn while the witnessed checkpoint is this many seconds behind; default 30. */
  alertSeconds?: number | undefined;
  /** Give up on a witness's answer after this (ms); default 5000. */
  timeoutMs?: number | undefined;
}

/** Witnessing's defaults (README, "Witnessing"). */
export const WITNESSING_DEFAULTS = { everyMs: 250, alertSeconds: 30, timeoutMs: 5000 } as const;

/** The witnesses a policy names with a URL; throws when there are none or the policy names other logs only. */
export function policyWitnesses(policy: WitnessPolicy, logVkey: string): { name: string; url: string }[] {
  if (
    policy.logs.length > 0 &&
    !policy.logs.some((l) => encodeVkey(l.vkey.name, l.vkey.type, l.vkey.key) === logVkey)
  )
    throw new Error(`the witness policy's log lines do not name this log's vkey ${logVkey}`);
  const asked = [...policy.witnesses]
    .filter(([, w]) => w.url !== undefined)
    .map(([name, w]) => ({ name, url: (w.url as string).replace(/\/+$/, "") }));
  for (const w of asked)
    if (!/^https?:\/\//.test(w.url)) throw new Error(`witness ${w.name}: ${w.url} is not an http(s) URL`);
  if (asked.length === 0)
    throw new Error("the witness policy names no witness with a URL (witness <name> <vkey> <url>)");
  return asked;
}

export interface LogService {
  /** The index, read-only (the review API's, the citizen page's). */
  readonly index: LogIndexReader;
  readonly indexer: IndexerThread;
  readonly reviewUrl: string;
  /** The pushes to the witnesses and the witnessed checkpoint, when witnessing is on. */
  readonly witnessing: Witnessing | undefined;
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
  let stopWitnessing = async () => {};
  try {
    telemetry.metrics.watchIndexLag(() => indexer.lag());
    // Witnessing runs on this thread and posts each witnessed checkpoint to the review API's thread.
    let review: ReviewWorker | undefined;
    let witnessed: Witnessing | undefined;
    let startWitnessing = () => {};
    if (o.witnessing) {
      const w = o.witnessing;
      const signer = checkpointSigner(o.logId, o.logKey);
      const pushes = witnessing({
        index: indexer.index,
        checkpointOf: signer.checkpointOf,
        witnesses: policyWitnesses(w.policy, signer.vkey),
        policy: w.policy,
        logVkey: signer.vkey,
        logger: logger.child({ component: "witnessing" }),
        fetch: witnessPost({ ca: w.ca, timeoutMs: w.timeoutMs ?? WITNESSING_DEFAULTS.timeoutMs }),
        onWitnessed: (c) => review?.witnessed(c),
      });
      witnessed = pushes;
      telemetry.metrics.watchWitnessLag(() => ({ entries: pushes.lag(), seconds: pushes.lagSeconds() }));
      startWitnessing = () => {
        stopWitnessing = runWitnessing(pushes, {
          everyMs: w.everyMs ?? WITNESSING_DEFAULTS.everyMs,
          alertSeconds: w.alertSeconds ?? WITNESSING_DEFAULTS.alertSeconds,
          logger: logger.child({ component: "witnessing" }),
        }).stop;
      };
    }
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
      ...(witnessed && { witnessed: true, witnessPolicy: o.witnessing?.policy.text }),
      logger: logger.child({ component: "review" }),
    });
    review = server;
    startWitnessing();
    return {
      index: indexer.index,
      indexer,
      reviewUrl: server.url,
      witnessing: witnessed,
      async close() {
        await server.close().catch((err: unknown) => logger.warn({ err }, "review API close failed"));
        await stopWitnessing();
        await indexer.stop();
      },
    };
  } catch (err) {
    await stopWitnessing();
    await indexer.stop();
    throw err;
  }
}
