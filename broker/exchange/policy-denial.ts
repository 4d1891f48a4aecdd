import { type Reason, XbusError } from "../../core/index.js";
import type { Decision } from "../../policies/index.js";

/** The error a consumer sees for a denied decision: consent and legal-order problems keep their own reasons. */
export function policyDenial(decision: Decision): XbusError {
  const reason: Reason =
    decision.denyReason === "CONSENT_REQUIRED" ||
    decision.denyReason === "CONSENT_INVALID" ||
    decision.denyReason === "LEGAL_ORDER_REQUIRED"
      ? decision.denyReason
      : "POLICY_DENIED";
  return new XbusError(reason, decision.explanation);
}
