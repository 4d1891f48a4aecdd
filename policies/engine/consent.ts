/**
 * A citizen's consent as the policy engine sees it. The broker looks the
 * request's consent up in its local copy of the consent bucket and hands it
 * to `decide`, which stays pure.
 */
export interface ConsentRecord {
  readonly id: string;
  readonly subjectId: string;
  /** SPIFFE ID of the consumer system the citizen consented to. */
  readonly consumer: string;
  readonly services: readonly string[];
  readonly purpose: string;
  /** Fields the citizen agreed to; empty = whatever the grant allows. */
  readonly fields: readonly string[];
  /** Milliseconds since the epoch after which the consent no longer holds. */
  readonly notAfter: number;
  /** Milliseconds since the epoch; 0 while in force. */
  readonly revokedAt: number;
}

export type ConsentProblem =
  | "unknown"
  | "revoked"
  | "expired"
  | "wrong subject"
  | "wrong consumer"
  | "wrong service"
  | "wrong purpose";

export interface ConsentQuestion {
  readonly subjectId: string;
  readonly consumer: string;
  readonly service: string;
  readonly purpose: string;
  readonly now: number;
}

/** Why the consent does not cover this request, or undefined when it does. */
export function consentProblem(c: ConsentRecord | undefined, q: ConsentQuestion): ConsentProblem | undefined {
  if (!c) return "unknown";
  if (c.revokedAt > 0) return "revoked";
  if (q.now >= c.notAfter) return "expired";
  if (c.subjectId !== q.subjectId) return "wrong subject";
  if (c.consumer !== q.consumer) return "wrong consumer";
  if (!c.services.includes(q.service)) return "wrong service";
  if (c.purpose !== q.purpose) return "wrong purpose";
  return undefined;
}
