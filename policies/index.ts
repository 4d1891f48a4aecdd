// The policy engine. For users: loadBundle/parseBundle, decide, grantsFor, the
// policy store (hot reload), the policy tests runner and their types.
export {
  BundleError,
  type Grant,
  type LoadBundleOptions,
  loadBundle,
  type PolicyBundle,
  type Purpose,
  parseBundle,
} from "./engine/bundle.js";
export { CONDITION_VARIABLES, type Condition, compileCondition } from "./engine/condition.js";
export { type ConsentProblem, type ConsentRecord, consentProblem } from "./engine/consent.js";
export {
  covers,
  type Decision,
  type DenyReason,
  decide,
  type GrantTrace,
  grantApplies,
  grantsFor,
  type PolicyRequest,
  type ServiceGrantSummary,
} from "./engine/decide.js";
export { parseLocalTime } from "./engine/local-time.js";
export {
  CONSENT_CASES,
  type ConsentCase,
  loadPolicyTests,
  type PolicyTestCase,
  PolicyTestFileError,
  type PolicyTestOptions,
  type PolicyTestResult,
  parsePolicyTests,
  runPolicyTests,
  timeProblem,
} from "./engine/policy-tests.js";
export { parseRate, type Rate } from "./engine/rate.js";
export {
  createPolicyStore,
  type PolicySource,
  type PolicyStore,
  type PolicyStoreOptions,
  type ReloadResult,
} from "./engine/store.js";
export { bundleWarnings } from "./engine/warnings.js";
export { type WhoCanRow, whoCan } from "./engine/who-can.js";
