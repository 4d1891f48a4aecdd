import type { ServiceName } from "../../core/contract/index.js";
import { type Reason, XbusError } from "../../core/index.js";
import type { RouteError } from "../../proto/gen/xbus/v1/route_pb.js";

/**
 * What a provider may say instead of a record: a closed set of reasons, each
 * answered to the consumer in the broker's own words. A provider is not
 * trusted to speak for the broker (a connector once answered CONSENT_INVALID
 * as if policy had decided it) nor to write the consumer's error or the
 * exchange log's `reason` (it put a citizen ID, HTML and 1 MB of text there):
 * its code and message are never read, its reason only compared.
 *
 *   SUBJECT_NOT_FOUND    → NOT_FOUND           "<agency> has no record for this subject"
 *   PROVIDER_BUSY        → RESOURCE_EXHAUSTED  "<service> is at its limit; retry shortly"
 *   DEADLINE_EXCEEDED    → DEADLINE_EXCEEDED   "<service> did not answer before the deadline"
 *   PROVIDER_UNAVAILABLE → UNAVAILABLE         "the adapter of <agency> is unreachable"
 *   anything else        → INTERNAL PROVIDER_ERROR "<service> failed at the provider"
 *
 * The connector's own refusals of a route (BAD_ROUTE_SIGNATURE, WRONG_AGENCY,
 * ROUTE_REPLAYED) are a fault of the bus, not of the consumer's request: the
 * consumer gets PROVIDER_ERROR and the broker's operator a warning naming the
 * reason (`refusal`).
 */
const ANSWERS: Partial<Record<Reason, (s: ServiceName) => string>> = {
  SUBJECT_NOT_FOUND: (s) => `${s.agency} has no record for this subject`,
  PROVIDER_BUSY: (s) => `${s.full} is at its limit; retry shortly`,
  DEADLINE_EXCEEDED: (s) => `${s.full} did not answer before the deadline`,
  PROVIDER_UNAVAILABLE: (s) => `the adapter of ${s.agency} is unreachable`,
};

const ROUTE_REFUSALS = new Set(["BAD_ROUTE_SIGNATURE", "WRONG_AGENCY", "ROUTE_REPLAYED"]);

export interface ProviderErrorAnswer {
  error: XbusError;
  /** The connector refused the broker's route with this reason (one of ours, safe to log). */
  refusal?: string;
}

export function providerError(e: RouteError, service: ServiceName): ProviderErrorAnswer {
  const answer = Object.hasOwn(ANSWERS, e.reason) ? ANSWERS[e.reason as Reason] : undefined;
  if (answer) return { error: new XbusError(e.reason as Reason, answer(service)) };
  const error = new XbusError("PROVIDER_ERROR", `${service.full} failed at the provider`);
  return ROUTE_REFUSALS.has(e.reason) ? { error, refusal: e.reason } : { error };
}
