// The conformance kit: one contract suite for any xbus.v1.Adapter. For users
// (`xbus adapter test`, an integrator's own CI) and for the repository's tests.

export { type AdapterClientOptions, adapterClient } from "./client.js";
export {
  type CheckResult,
  type ConformanceOptions,
  DEFAULT_UNKNOWN_SUBJECT,
  runConformance,
} from "./suite.js";
