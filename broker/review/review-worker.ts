import { createPrivateKey, createPublicKey } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import { errorFields } from "../../core/index.js";
import { checkpointSigner, indexCheckpoints } from "../indexer/checkpoint-signer.js";
import { LogIndexReader } from "../indexer/log-index.js";
import { type PortLogLine, portLogger } from "../indexer/port-logger.js";
import type { AlertOptions } from "./alert-options.js";
import { createReviewApp } from "./app.js";
import { type ReviewListen, type ReviewServer, serveReview } from "./serve.js";

/**
 * The review API's worker thread (started by startReviewWorker, review-thread.ts): its own read-only
 * connection to the index, its own HTTP(S) server. A slow query or a large page runs here, never on
 * the event loop that routes exchanges (issue 19, finding 5).
 */

/** Plain data only: it is cloned into the worker. */
export interface ReviewWorkerData {
  indexPath: string;
  logId: string;
  /** The tree-head key, PKCS#8 PEM: `GET /checkpoint` signs the latest head as a C2SP checkpoint. */
  logKeyPem: string;
  logSecret: Uint8Array;
  tokenHashes: readonly string[];
  subjectIdPattern: { source: string; flags: string };
  traceUrlTemplate?: string | undefined;
  alerts?: AlertOptions | undefined;
  listen: ReviewListen;
  /** `/readyz` asks the main thread for its checks (NATS, lag, signer). */
  ready: boolean;
  /** Embargoes are judged by the main thread's clock (an injected one in tests), else Date.now here. */
  clock: boolean;
  /**
   * Witnessing runs on the main thread: `GET /checkpoint` and tlog-proofs serve the witnessed checkpoint it
   * posts (`witnessed` messages), and `/checkpoint/signed` the log-signed one.
   */
  witnessed: boolean;
  /** The witness policy's text, served at `GET /v1/log/witness-policy`. */
  witnessPolicy?: string | undefined;
}

export type FromReviewWorker =
  | { type: "listening"; url: string }
  | { type: "failed"; message: string }
  | { type: "ask"; id: number; what: "ready" | "now" }
  | { type: "closed" }
  | PortLogLine
  | { type: "crash"; err: unknown };

export type ToReviewWorker =
  | { type: "answer"; id: number; value: unknown }
  | { type: "witnessed"; size: number; note: string }
  | { type: "close" };

const port = parentPort;
if (!port) throw new Error("review-worker.ts is a worker thread's entry (see startReviewWorker)");
const data = workerData as ReviewWorkerData;
const logger = portLogger(port, {});
process.on("uncaughtExceptionMonitor", (err) => {
  port.postMessage({ type: "crash", err: errorFields(err) } satisfies FromReviewWorker);
});

let asked = 0;
const waiting = new Map<number, (value: unknown) => void>();
function ask<T>(what: "ready" | "now"): Promise<T> {
  const id = ++asked;
  return new Promise<T>((resolve) => {
    waiting.set(id, resolve as (value: unknown) => void);
    port?.postMessage({ type: "ask", id, what } satisfies FromReviewWorker);
  });
}

let index: LogIndexReader | undefined;
let server: ReviewServer | undefined;
let witnessed: { size: number; note: string } | undefined;
port.on("message", (m: ToReviewWorker) => {
  if (m.type === "answer") {
    waiting.get(m.id)?.(m.value);
    waiting.delete(m.id);
    return;
  }
  if (m.type === "witnessed") {
    if (!witnessed || m.size >= witnessed.size) witnessed = { size: m.size, note: m.note };
    return;
  }
  void (async () => {
    await server?.close();
    index?.close();
    port.postMessage({ type: "closed" } satisfies FromReviewWorker);
    port.close();
  })();
});

try {
  index = new LogIndexReader(data.indexPath, data.logId);
  const logKey = createPrivateKey(data.logKeyPem);
  const signed = indexCheckpoints(index, checkpointSigner(data.logId, logKey).checkpointOf);
  const app = createReviewApp({
    index,
    logPublicKey: createPublicKey(logKey),
    ...(data.witnessed
      ? { checkpoints: { latest: () => witnessed }, signedCheckpoints: signed }
      : { checkpoints: signed }),
    ...(data.witnessPolicy !== undefined && { witnessPolicy: data.witnessPolicy }),
    tokenHashes: data.tokenHashes,
    logSecret: data.logSecret,
    subjectIdPattern: new RegExp(data.subjectIdPattern.source, data.subjectIdPattern.flags),
    ...(data.ready ? { ready: () => ask<Record<string, { ok: boolean; detail?: string }>>("ready") } : {}),
    ...(data.traceUrlTemplate !== undefined ? { traceUrlTemplate: data.traceUrlTemplate } : {}),
    ...(data.alerts ? { alerts: data.alerts } : {}),
    ...(data.clock ? { now: () => ask<number>("now") } : {}),
    logger,
  });
  server = await serveReview(app, data.listen);
  port.postMessage({ type: "listening", url: server.url } satisfies FromReviewWorker);
} catch (err) {
  index?.close();
  port.postMessage({ type: "failed", message: (err as Error).message } satisfies FromReviewWorker);
  port.close();
}
