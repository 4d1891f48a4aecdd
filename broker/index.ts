// The broker. For users (process wiring, tests): startBroker and its options;
// the recorder interface the exchange log implements.
export { createLogRecorder } from "./exchange/log-recorder.js";
export type { ExchangeOutcome, ExchangeRecorder } from "./exchange/outcome.js";
export {
  type Broker,
  type BrokerOptions,
  type BrokerTls,
  DEFAULT_SUBJECT_ID_PATTERN,
  startBroker,
} from "./server.js";
