// The policy engine. For users: loadBundle/parseBundle, decide, grantsFor and their types.
export {
  BundleError,
  type Grant,
  type LoadBundleOptions,
  loadBundle,
  type PolicyBundle,
  type Purpose,
  parseBundle,
} from "./engine/bundle.js";
export {
  covers,
  type Decision,
  type DenyReason,
  decide,
  grantsFor,
  type PolicyRequest,
  type ServiceGrantSummary,
} from "./engine/decide.js";
