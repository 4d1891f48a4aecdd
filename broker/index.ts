// The broker. For users (process wiring, tests): startBroker and its options;
// the recorder interface the exchange log implements.
export { type ConsentStore, consentKey, openConsentStore } from "./consent/consent-store.js";
export { createLogRecorder } from "./exchange/log-recorder.js";
export type { ExchangeOutcome, ExchangeRecorder } from "./exchange/outcome.js";
export { createRateLimiter, type RateLimiter } from "./exchange/rate-limiter.js";
export {
  type Broker,
  type BrokerOptions,
  type BrokerTls,
  DEFAULT_SUBJECT_ID_PATTERN,
  startBroker,
} from "./server.js";
