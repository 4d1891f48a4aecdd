import type { KeyObject } from "node:crypto";
import type { Logger } from "../../core/index.js";
import { startWorker } from "../indexer/ts-worker.js";
import type { AlertOptions } from "./alert-options.js";
import type { FromReviewWorker, ReviewWorkerData, ToReviewWorker } from "./review-worker.js";
import { type ReviewListen, type ReviewServer, reviewListenProblem } from "./serve.js";

export interface ReviewWorkerOptions {
  indexPath: string;
  logId: string;
  logKey: KeyObject;
  logSecret: Uint8Array;
  tokenHashes: readonly string[];
  subjectIdPattern: RegExp;
  traceUrlTemplate?: string | undefined;
  alerts?: AlertOptions | undefined;
  listen: ReviewListen;
  /** Readiness checks beyond the index (NATS, lag, signer), answered on this thread. */
  ready?: () => Promise<Record<string, { ok: boolean; detail?: string }>>;
  /** The clock embargoes are judged by; default the worker's Date.now. */
  now?: (() => number) | undefined;
  /** `GET /checkpoint` serves what `witnessed()` posts (witnessing on this thread), not the log-signed one. */
  witnessed?: boolean;
  /** The witness policy (C2SP tlog-policy text) the witnessed checkpoint meets, for `GET /v1/log/witness-policy`. */
  witnessPolicy?: string | undefined;
  logger: Logger;
}

/** The review API's thread, and (with `witnessed`) where this thread posts each newly witnessed checkpoint. */
export interface ReviewWorker extends ReviewServer {
  witnessed(c: { size: number; note: string }): void;
}

/**
 * The review API in a worker thread of its own (review-worker.ts): its queries, its JSON and its TLS
 * run off this thread, so a reviewer's large page never holds an exchange. This thread answers only
 * `/readyz`'s checks and the clock. Resolves once the server listens; rejects with the reason it
 * could not (a bind refused by reviewListenProblem, a port in use, a certificate that does not load).
 */
export async function startReviewWorker(o: ReviewWorkerOptions): Promise<ReviewWorker> {
  // Refused here too, before a thread is started for nothing.
  const problem = reviewListenProblem(o.listen);
  if (problem) throw new Error(problem);
  const workerData: ReviewWorkerData = {
    indexPath: o.indexPath,
    logId: o.logId,
    logKeyPem: o.logKey.export({ type: "pkcs8", format: "pem" }).toString(),
    logSecret: o.logSecret,
    tokenHashes: o.tokenHashes,
    subjectIdPattern: { source: o.subjectIdPattern.source, flags: o.subjectIdPattern.flags },
    traceUrlTemplate: o.traceUrlTemplate,
    alerts: o.alerts,
    listen: o.listen,
    ready: o.ready !== undefined,
    clock: o.now !== undefined,
    witnessed: o.witnessed === true,
    witnessPolicy: o.witnessPolicy,
  };
  const worker = startWorker(new URL("./review-worker.ts", import.meta.url), {
    workerData,
    name: "xbus-review",
  });
  const send = (m: ToReviewWorker) => worker.postMessage(m);
  let listening = false;
  let closing = false;
  let crash: unknown;
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
  const url = await new Promise<string>((resolve, reject) => {
    worker.on("message", (m: FromReviewWorker) => {
      if (m.type === "log") o.logger[m.level](m.fields, m.msg);
      else if (m.type === "crash") crash = m.err;
      else if (m.type === "listening") {
        listening = true;
        resolve(m.url);
      } else if (m.type === "failed") reject(new Error(m.message));
      else if (m.type === "ask") {
        const answer =
          m.what === "now" ? Promise.resolve((o.now ?? Date.now)()) : (o.ready?.() ?? Promise.resolve({}));
        answer.then(
          (value) => send({ type: "answer", id: m.id, value }),
          (err: unknown) =>
            send({
              type: "answer",
              id: m.id,
              value:
                m.what === "ready" ? { main: { ok: false, detail: (err as Error).message } } : Date.now(),
            }),
        );
      }
    });
    worker.on("error", (err) => {
      crash ??= err;
    });
    void exited.then((code) => {
      if (!listening) reject(new Error(`the review API's thread ended before it listened (exit ${code})`));
      else if (!closing)
        o.logger.error({ err: crash, code }, "review API thread ended: the review API is down (restart)");
    });
  });
  return {
    url,
    witnessed(c) {
      if (!closing) send({ type: "witnessed", size: c.size, note: c.note });
    },
    async close() {
      if (closing) return;
      closing = true;
      send({ type: "close" });
      await exited;
    },
  };
}
