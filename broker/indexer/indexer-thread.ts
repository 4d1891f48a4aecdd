import type { KeyObject } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../core/index.js";
import type { NatsTlsInForce } from "../../core/nats/index.js";
import { LOG_STREAM } from "../log/jetstream-log.js";
import type { SignerRole } from "./head-publisher.js";
import type { Indexer } from "./indexer.js";
import type {
  FromIndexerWorker,
  IndexerWorkerData,
  SignerSettings,
  ToIndexerWorker,
} from "./indexer-worker.js";
import { LogIndexReader } from "./log-index.js";
import { startWorker } from "./ts-worker.js";

export interface IndexerWorkerOptions {
  /** The caller's connection: lag() asks the stream's last sequence with it. */
  nats: NatsConnection;
  /**
   * Options for the worker's own connection, as plain data (servers,
   * reconnection) and without TLS: they are copied into the worker.
   */
  natsOptions: ConnectionOptions;
  /**
   * The identity that connection presents, when NATS runs TLS; it must be
   * allowed to consume the log stream. The set in force when the worker
   * starts, then each renewal, which the worker presents from its next
   * reconnect.
   */
  natsTls?: NatsTlsInForce;
  indexPath: string;
  logId: string;
  /** Signs tree heads; it goes to the worker as PKCS#8 PEM and is never logged. */
  logKey: KeyObject;
  logger: Logger;
  /** Sign a tree head at least this often while entries arrive. Default 1000 ms. */
  treeHeadEveryMs?: number;
  /**
   * Publish heads only through the KV lock, under the signer's lease (the log service, README "Log
   * service"). Without it the worker signs into its index alone.
   */
  signer?: SignerSettings;
}

export interface IndexerThread extends Indexer {
  /** The index the worker writes, read-only here (the review API reads it). Closed by stop(). */
  readonly index: LogIndexReader;
  /**
   * False once the worker has ended, stopped or crashed, or the indexer halted: the index then no
   * longer follows the stream.
   */
  running(): boolean;
  /** Why the indexer halted (the index and the stream disagree), or undefined while it has not. */
  halted(): string | undefined;
  /** With a signer: whether this instance signs (`active`) or follows the heads another signs. */
  role(): SignerRole | undefined;
  /**
   * Ends the worker at once, as a crash would: no last round, the lease not given up, its NATS
   * connection dropped (tests of a standby's takeover). Closes the read-only index.
   */
  abort(): Promise<void>;
}

/**
 * The indexer thread's young generation, capped. V8 sizes a worker's as the machine's memory allows (up to
 * 16 MiB semi-spaces here) and grows it under a steady allocation rate, never giving it back: in a 40-minute
 * soak the process's V8 pages stepped up by 18 MiB after 17 minutes while the main thread's heap stayed
 * flat. The indexer's garbage is short-lived (decoded entries, hashes), so a small nursery costs a few more
 * scavenges and keeps its memory flat.
 */
const INDEXER_YOUNG_GENERATION_MB = 12;

/** How long stop() waits for the worker to flush and close before terminating it. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * The indexer (startIndexer: log stream → SQLite index, signed tree heads) in
 * a worker thread with its own NATS connection, so that its decoding, SQLite
 * writes, hashing and signing use another core than the broker's. This thread
 * keeps a read-only connection to the same file (WAL: readers do not block the
 * writer) and computes the lag from the stream's info and the indexed sequence
 * the worker commits. Resolves once the worker consumes the stream; rejects if
 * it fails to get there.
 */
export async function startIndexerWorker(o: IndexerWorkerOptions): Promise<IndexerThread> {
  // A `tls` here would be cloned into the worker as it is now and never follow a renewal.
  if (o.natsOptions.tls)
    throw new Error("startIndexerWorker: give the NATS identity as natsTls, not natsOptions.tls");
  const workerData: IndexerWorkerData = {
    nats: o.natsOptions,
    ...(o.natsTls && { tls: o.natsTls.current() }),
    indexPath: o.indexPath,
    logId: o.logId,
    logKeyPem: o.logKey.export({ type: "pkcs8", format: "pem" }).toString(),
    ...(o.treeHeadEveryMs !== undefined && { treeHeadEveryMs: o.treeHeadEveryMs }),
    ...(o.signer && { signer: o.signer }),
  };
  const worker = startWorker(new URL("./indexer-worker.ts", import.meta.url), {
    workerData,
    name: "xbus-indexer",
    resourceLimits: { maxYoungGenerationSizeMb: INDEXER_YOUNG_GENERATION_MB },
  });
  let state: "starting" | "running" | "stopping" | "exited" = "starting";
  let crash: unknown;
  let halted: string | undefined;
  let role: SignerRole | undefined;
  let ready!: () => void;
  let failed!: (err: Error) => void;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  const unfollow = o.natsTls?.onRenew((pem) =>
    worker.postMessage({ type: "tls", pem } satisfies ToIndexerWorker),
  );
  const exited = new Promise<void>((resolve) =>
    worker.once("exit", () => {
      unfollow?.();
      resolve();
    }),
  );
  worker.on("message", (m: FromIndexerWorker) => {
    if (m.type === "log") o.logger[m.level](m.fields, m.msg);
    else if (m.type === "crash") crash = m.err;
    else if (m.type === "halted") halted ??= m.reason;
    else if (m.type === "role") role = m.role;
    else if (m.type === "ready" && state === "starting") {
      state = "running";
      ready();
    }
  });
  // An uncaught error in the worker ends it: 'error', then 'exit'.
  worker.on("error", (err) => {
    crash ??= err;
  });
  worker.on("exit", (code) => {
    const was = state;
    state = "exited";
    if (was === "starting") {
      failed(crashError(crash, code));
    } else if (was === "running" || crash !== undefined) {
      // Loud: the broker keeps answering and logging to the stream, but nothing indexes it anymore.
      o.logger.error(
        { ...(crash !== undefined && { err: crash }), exit_code: code },
        "indexer worker crashed: the index no longer follows the log stream (restart the broker)",
      );
    }
  });
  await started;

  let index: LogIndexReader;
  let jsm: Awaited<ReturnType<typeof jetstreamManager>>;
  try {
    index = new LogIndexReader(o.indexPath, o.logId);
    jsm = await jetstreamManager(o.nats);
  } catch (err) {
    await worker.terminate();
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    index,
    running: () => state === "running" && halted === undefined,
    halted: () => halted,
    role: () => role,
    // Still answers after a crash: a lag that keeps growing is what should page someone.
    async lag() {
      const info = await jsm.streams.info(LOG_STREAM);
      return Math.max(0, info.state.last_seq - index.indexedSeq);
    },
    abort() {
      stopped ??= (async () => {
        state = "stopping";
        await worker.terminate();
        index.close();
      })();
      return stopped;
    },
    stop() {
      stopped ??= (async () => {
        if (state === "running") {
          state = "stopping";
          worker.postMessage({ type: "stop" } satisfies ToIndexerWorker);
          const timer = setTimeout(() => {
            o.logger.error({}, `indexer worker did not stop within ${STOP_TIMEOUT_MS} ms; terminating it`);
            void worker.terminate();
          }, STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
        index.close();
      })();
      return stopped;
    },
  };
}

/** Readiness fails at this many entries not yet indexed. */
const READY_MAX_LAG = 10_000;

/**
 * The index's part of the broker's readiness: ready while the indexer runs and keeps up; the detail
 * says how far behind it is and, once it no longer runs, why if it halted on its own.
 */
export async function indexReadiness(indexer: IndexerThread): Promise<{ ok: boolean; detail: string }> {
  const lag = await indexer.lag().catch(() => Number.NaN);
  const running = indexer.running();
  const halted = indexer.halted();
  const why = running ? "" : `; the indexer is not running${halted ? `: ${halted}` : ""}`;
  return { ok: running && lag < READY_MAX_LAG, detail: `${lag} entries behind the stream${why}` };
}

/** An Error for a worker that ended before it was ready, from what it reported of its crash. */
function crashError(crash: unknown, code: number): Error {
  if (crash instanceof Error) return crash;
  const c = (crash ?? {}) as { name?: unknown; message?: unknown };
  const err = new Error(
    typeof c.message === "string"
      ? `indexer worker: ${c.message}`
      : `the indexer worker exited (code ${code}) before it was ready`,
  );
  if (typeof c.name === "string") err.name = c.name;
  return err;
}
