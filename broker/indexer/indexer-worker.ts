import { createPrivateKey, createPublicKey } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import type { ConnectionOptions } from "@nats-io/transport-node";
import { errorFields, type Level } from "../../core/index.js";
import { connectComponent, natsTlsInForce } from "../../core/nats/index.js";
import type { TlsPem } from "../../core/tls/index.js";
import { openHeadLock } from "./head-lock.js";
import { type HeadPublisher, headPublisher, type SignerRole } from "./head-publisher.js";
import { startIndexer } from "./indexer.js";
import { LogIndex } from "./log-index.js";
import { portLogger } from "./port-logger.js";
import { signerLease } from "./signer-lease.js";

/**
 * The indexer's worker thread (started by startIndexerWorker, indexer-thread.ts):
 * its own NATS connection, the index's only writable connection, the consumer
 * of the log stream and the tree-head signing, off the broker's main thread.
 */

/** Plain data only: it is cloned into the worker. */
export interface IndexerWorkerData {
  /** nats.js options for the worker's own connection (servers, reconnection), without TLS. */
  nats: ConnectionOptions;
  /** The TLS identity that connection presents, as in force when the worker started; renewals come as "tls" messages. */
  tls?: TlsPem;
  indexPath: string;
  logId: string;
  /** The tree-head signing key, PKCS#8 PEM. */
  logKeyPem: string;
  treeHeadEveryMs?: number;
  /** Publish heads through the KV lock under a lease (the log service); absent: sign into the index alone. */
  signer?: SignerSettings;
}

/** The log service's signer: the KV bucket of the head and lease, this instance's name, the lease's length. */
export interface SignerSettings {
  bucket?: string;
  holder: string;
  leaseMs: number;
}

export type FromIndexerWorker =
  | { type: "ready" }
  /** The indexer stopped on its own (the index and the stream disagree); the thread stays up. */
  | { type: "halted"; reason: string }
  /** This instance became the signer, or stopped being it. */
  | { type: "role"; role: SignerRole }
  | { type: "log"; level: Level; fields: Record<string, unknown>; msg: string }
  /** Sent just before an uncaught error ends the thread, with what a log line keeps of it. */
  | { type: "crash"; err: unknown };

export type ToIndexerWorker = { type: "stop" } | { type: "tls"; pem: TlsPem };

const port = parentPort;
if (!port) throw new Error("indexer-worker.ts is a worker thread's entry (see startIndexerWorker)");
const data = workerData as IndexerWorkerData;
const logger = portLogger(port, {});
// An uncaught error still ends the thread (the monitor does not handle it), but it is described here
// first: errors that are not built-in ones (better-sqlite3's SqliteError) lose their message when
// Node copies them to the main thread's 'error' event.
process.on("uncaughtExceptionMonitor", (err) => {
  port.postMessage({ type: "crash", err: errorFields(err) } satisfies FromIndexerWorker);
});

// The broker's identity in force, renewed by the main thread: each reconnect presents the latest set.
const tls = data.tls ? natsTlsInForce(data.tls) : undefined;
port.on("message", (m: ToIndexerWorker) => {
  if (m.type === "tls") tls?.renew(m.pem);
});
const nc = await connectComponent({ ...data.nats, ...(tls ? { tls: tls.option } : {}) });
let stopping = false;
void nc.closed().then((err) => {
  if (stopping) return;
  // Reconnection never gives up (the stack's options), so this is an auth failure or a bug: end the
  // thread, and the main thread reports it as a crash.
  logger.error({ err }, "indexer's NATS connection closed");
  process.exit(1);
});

let index: LogIndex | undefined;
try {
  const logKey = createPrivateKey(data.logKeyPem);
  index = new LogIndex(data.indexPath, data.logId, logKey);
  const idx = index;
  const onHalt = (reason: string) => port.postMessage({ type: "halted", reason } satisfies FromIndexerWorker);
  let publisher: HeadPublisher | undefined;
  if (data.signer) {
    const lock = await openHeadLock({
      nats: nc,
      ...(data.signer.bucket !== undefined && { bucket: data.signer.bucket }),
      logId: data.logId,
      publicKey: createPublicKey(logKey),
    });
    publisher = headPublisher({
      index: idx,
      lock,
      lease: signerLease({ kv: lock.kv, holder: data.signer.holder, leaseMs: data.signer.leaseMs }),
      logKey,
      logger: logger.child({ part: "signer" }),
      onHalt,
      onRole: (role) => port.postMessage({ type: "role", role } satisfies FromIndexerWorker),
    });
  }
  const indexer = await startIndexer({
    nats: nc,
    index: idx,
    logger,
    onHalt,
    ...(publisher && { publisher }),
    ...(data.treeHeadEveryMs !== undefined && { treeHeadEveryMs: data.treeHeadEveryMs }),
  });
  port.on("message", (m: ToIndexerWorker) => {
    if (m.type !== "stop" || stopping) return;
    stopping = true;
    // Errors here end the thread with an error: the main thread logs it and stop() returns anyway.
    void (async () => {
      await indexer.stop();
      idx.close();
      await nc.close();
      // The last handle: the thread ends once the port is closed.
      port.close();
    })();
  });
  port.postMessage({ type: "ready" } satisfies FromIndexerWorker);
} catch (err) {
  stopping = true;
  index?.close();
  await nc.close();
  throw err;
}
