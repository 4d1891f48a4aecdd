import type { FaultsOptions } from "./run.js";

/** The harness's tests run rows with phases this short: what they check is the JSON and the invariants, never a time. */
export const TINY_PHASES = {
  baselineMs: 500,
  faultMs: 500,
  settleMs: 200,
  recoverMaxMs: 30_000,
  concurrency: 4,
  deadlineMs: 3000,
  log: () => {},
} satisfies Partial<FaultsOptions>;
