// The broker. For users (process wiring, tests): startBroker and its options;
// the exchange log (writer, indexer, index) and the review API; consents and rate limits.

export { CITIZEN_CONTENT_SECURITY_POLICY, type CitizenAppOptions, createCitizenApp } from "./citizen/app.js";
export { NOTIFY_SUBJECT, natsNoticeSink, webhookNoticeSink } from "./citizen/notice-sinks.js";
export {
  type AccessNotice,
  type AccessNotifier,
  createAccessNotifier,
  type NoticeSink,
} from "./citizen/notifier.js";
export { type NotifyStore, openNotifyStore } from "./citizen/notify-store.js";
export { createOidcSignIn, type OidcSignIn, type OidcSignInOptions } from "./citizen/oidc-sign-in.js";
export {
  CONSENT_BUCKET,
  type ConsentStore,
  consentBucketSpec,
  consentKey,
  openConsentBucket,
  openConsentStore,
} from "./consent/consent-store.js";
export type { ExchangeOutcome, ExchangeRecorder } from "./exchange/outcome.js";
export { createRateLimiter, type LocalRateLimiter, type RateLimiter } from "./exchange/rate-limiter.js";
export {
  blockOf,
  createSharedRateLimiter,
  RATE_BUCKET,
  RATE_BUCKET_OPTIONS,
  type SharedRateLimiterOptions,
} from "./exchange/shared-rate-limiter.js";
export { brokerOf, brokerTlsCheck, logServiceOf } from "./identity/broker-tls-check.js";
export {
  type CheckpointOf,
  type CheckpointSigner,
  type CheckpointSource,
  checkpointSigner,
  indexCheckpoints,
} from "./indexer/checkpoint-signer.js";
export { LOG_HEAD_BUCKET, LOG_HEAD_BUCKET_OPTIONS } from "./indexer/head-lock.js";
export { type Indexer, type IndexerOptions, startIndexer } from "./indexer/indexer.js";
export {
  type IndexerThread,
  type IndexerWorkerOptions,
  indexReadiness,
  startIndexerWorker,
} from "./indexer/indexer-thread.js";
export {
  type ExchangeFilter,
  type IndexedEntry,
  LogIndex,
  LogIndexReader,
  type TreeHead,
} from "./indexer/log-index.js";
export { type ReindexOptions, type ReindexResult, reindex } from "./indexer/reindex.js";
export { witnessPost } from "./indexer/witness-post.js";
export { runWitnessing, type Witnessing, type WitnessingOptions, witnessing } from "./indexer/witnessing.js";
export {
  DEFAULT_MAX_STREAM_BYTES,
  type ExchangeLogOptions,
  ensureLogStream,
  LOG_STREAM,
  LOG_SUBJECT,
  logStreamSpec,
  openExchangeLog,
  toRecord,
} from "./log/jetstream-log.js";
export {
  applyStream,
  checkStream,
  type StreamSpec,
  streamConfig,
  streamDifferences,
} from "./log/stream-settings.js";
export { subjectRef } from "./log/subject-ref.js";
export type { AlertOptions, AlertsJson } from "./review/alerts.js";
export { createReviewApp, type ReviewOptions } from "./review/app.js";
export { recordJson } from "./review/record-json.js";
export { type ReviewWorker, type ReviewWorkerOptions, startReviewWorker } from "./review/review-thread.js";
export {
  isLoopback,
  type ReviewListen,
  type ReviewServer,
  reviewListenProblem,
  serveReview,
} from "./review/serve.js";
export {
  type Broker,
  type BrokerOptions,
  type BrokerTls,
  DEFAULT_SUBJECT_ID_PATTERN,
  startBroker,
} from "./server.js";
