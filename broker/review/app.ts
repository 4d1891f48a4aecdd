import type { KeyObject } from "node:crypto";
import { Hono } from "hono";
import { createLogger, type Logger } from "../../core/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import type { CheckpointSource } from "../indexer/checkpoint-signer.js";
import type { LogIndexReader } from "../indexer/log-index.js";
import { type AlertOptions, resolveAlertOptions } from "./alert-options.js";
import { noSuchRoute, reviewErrorHandler } from "./http-errors.js";
import { reviewParams } from "./params.js";
import { reviewerAuth } from "./reviewer-auth.js";
import { alertRoutes } from "./routes/alerts.js";
import { publicLogRoutes, tlogProofRoutes } from "./routes/checkpoint.js";
import type { ReviewContext } from "./routes/context.js";
import { exchangeRoutes } from "./routes/exchanges.js";
import { healthRoutes } from "./routes/health.js";
import { logRoutes } from "./routes/log.js";
import { oversightRoutes } from "./routes/oversight.js";
import { statsRoutes } from "./routes/stats.js";
import { subjectRoutes } from "./routes/subjects.js";
import { tileRoutes } from "./routes/tiles.js";
import { uiRoutes } from "./routes/ui.js";
import { loadUiAssets } from "./ui-assets.js";

export { UI_CONTENT_SECURITY_POLICY } from "./routes/ui.js";

export interface ReviewOptions {
  /** Read only: the review API never writes the index (a LogIndex, the writer, is one too). */
  index: LogIndexReader;
  /** Public half of the Ed25519 key that signs tree heads. */
  logPublicKey: KeyObject;
  /** Lowercase hex SHA-256 of each accepted bearer token; the tokens themselves are never stored. */
  tokenHashes: readonly string[];
  /** To turn a citizen ID in a query into its subject reference. */
  logSecret: Uint8Array;
  subjectIdPattern: RegExp;
  /** Readiness checks beyond the index itself (NATS, stream, lag). */
  ready?: () => Promise<Record<string, { ok: boolean; detail?: string }>>;
  /**
   * Link from an exchange to its trace in the operator's tracing UI:
   * `{trace_id}` is replaced, e.g. `http://jaeger:16686/trace/{trace_id}`.
   */
  traceUrlTemplate?: string;
  /** Thresholds of `GET /v1/alerts` (README, "Alerts"); defaults when absent. */
  alerts?: AlertOptions;
  /**
   * The log's latest C2SP checkpoint, for `GET /checkpoint` and the hash tiles within it (no token) and
   * tlog-proofs; without it those routes are 404.
   */
  checkpoints?: CheckpointSource;
  /**
   * When `checkpoints` are the witnessed ones: the log-signed checkpoint, possibly newer and not yet
   * cosigned, for `GET /checkpoint/signed` (no token).
   */
  signedCheckpoints?: CheckpointSource;
  /**
   * The C2SP tlog-policy (its text) the witnessed checkpoints meet, for `GET /v1/log/witness-policy`
   * (reviewer token): the review UI checks tlog-proofs by it. Without it that route is 404.
   */
  witnessPolicy?: string;
  /** Where a request that fails on a fault of the server is logged; default: component "review" on stderr. */
  logger?: Logger;
  /** The clock that says which embargoes still run (`/v1/oversight/embargoes`); default Date.now. */
  now?: () => number | Promise<number>;
}

/**
 * The security team's HTTP API over the exchange log (README, "Review API"): one route group per file
 * under routes/, the token checked for all of /v1/* by one middleware, every parameter parsed in
 * params.ts, every error answered by one handler (http-errors.ts).
 */
export function createReviewApp(o: ReviewOptions): Hono {
  const ctx: ReviewContext = {
    index: o.index,
    publicKey: rawEd25519(o.logPublicKey).toString("base64"),
    logSecret: o.logSecret,
    traceUrlTemplate: o.traceUrlTemplate,
    alerts: resolveAlertOptions(o.alerts),
    now: o.now ?? Date.now,
  };
  const params = reviewParams({
    logSize: () => o.index.treeSize,
    subjectIdPattern: o.subjectIdPattern,
    alerts: ctx.alerts,
  });
  return new Hono()
    .onError(reviewErrorHandler(o.logger ?? createLogger({ component: "review" })))
    .notFound(noSuchRoute)
    .route("/", healthRoutes(o))
    .route("/", uiRoutes(loadUiAssets()))
    .route("/", publicLogRoutes(o.checkpoints, o.signedCheckpoints))
    .route("/", tileRoutes(o.index.tree, o.checkpoints))
    .use("/v1/*", reviewerAuth(o.tokenHashes))
    .route("/", logRoutes(ctx, params))
    .route("/", tlogProofRoutes(o.index, o.checkpoints, params, o.witnessPolicy))
    .route("/", exchangeRoutes(ctx, params))
    .route("/", subjectRoutes(ctx, params))
    .route("/", alertRoutes(ctx, params))
    .route("/", oversightRoutes(ctx, params))
    .route("/", statsRoutes(ctx, params));
}
