import type { WorkloadId } from "../../core/contract/index.js";
import type { Grant, PolicyBundle } from "./bundle.js";
import { type ConsentProblem, type ConsentRecord, consentProblem } from "./consent.js";
import { disclosureTime } from "./disclosure.js";
import type { Rate } from "./rate.js";

export interface PolicyRequest {
  readonly consumer: WorkloadId;
  /** A service that exists in the catalogue (validated before). */
  readonly service: string;
  /** A purpose that exists in the bundle (validated before). */
  readonly purpose: string;
  /** Valid field paths of the record type; empty asks for the whole ceiling. */
  readonly fields: readonly string[];
  /** The citizen ID (validated before). */
  readonly subjectId: string;
  /** When the decision is taken, ms since the epoch: passed in so the decision stays pure. */
  readonly now: number;
  /** The consent id the request names; "" for none. */
  readonly consentId: string;
  /** That consent as the broker's consent store holds it; undefined when unknown. */
  readonly consent: ConsentRecord | undefined;
  /** The legal order the request names (FetchRequest.legal_order_ref); "" or absent for none. */
  readonly legalOrderRef?: string;
}

export type DenyReason =
  | "NO_GRANT"
  | "PURPOSE_NOT_GRANTED"
  | "GRANT_EXPIRED"
  | "CONSENT_REQUIRED"
  | "CONSENT_INVALID"
  | "CONDITION_NOT_MET"
  | "NO_FIELDS_RELEASED"
  | "LEGAL_ORDER_REQUIRED";

/** What happened to one grant of this consumer and service, for `xbus policy explain`. */
export interface GrantTrace {
  readonly grant: string;
  readonly source: string;
  readonly result:
    | "matched"
    | "purpose"
    | "expired"
    | "consent-required"
    | "consent-invalid"
    | "legal-order-required"
    | "condition";
  readonly detail: string;
}

export interface Decision {
  readonly allow: boolean;
  /** Why it was denied; undefined when allowed. */
  readonly denyReason: DenyReason | undefined;
  /** A sentence for the consumer and the log; names no citizen. */
  readonly explanation: string;
  readonly matchedGrants: readonly string[];
  readonly released: readonly string[];
  /** Requested fields, or parts of them, that no matching grant covers. */
  readonly withheld: readonly string[];
  readonly bundleHash: string;
  /** Every grant of this consumer and service, and what became of it. */
  readonly trace: readonly GrantTrace[];
  /** Rates of the matched grants: the broker spends one request of each. */
  readonly rates: readonly { readonly grant: string; readonly rate: Rate }[];
  /**
   * Delayed disclosure: when the citizen view may show this exchange (ms since the epoch), when every
   * matched grant is covert; undefined when it is shown at once. Decided from the earliest matched
   * grant: a consumer that may read a record openly gains nothing by naming a legal order.
   */
  readonly discloseAt: number | undefined;
}

/** True when `path` is `ancestor` or lies below it. */
export function covers(ancestor: string, path: string): boolean {
  return path === ancestor || (path.startsWith(ancestor) && path.charAt(ancestor.length) === ".");
}

export function grantApplies(g: Grant, consumer: WorkloadId): boolean {
  return g.consumer === undefined ? g.consumerAgency === consumer.agency : g.consumer === consumer.uri;
}

/** Later stages win when picking the reason for a denial: the furthest a grant got tells the most. */
const STAGE: Record<GrantTrace["result"], number> = {
  purpose: 1,
  expired: 2,
  "consent-required": 3,
  "consent-invalid": 3,
  "legal-order-required": 4,
  condition: 5,
  matched: 6,
};
const REASON: Record<Exclude<GrantTrace["result"], "matched">, DenyReason> = {
  purpose: "PURPOSE_NOT_GRANTED",
  expired: "GRANT_EXPIRED",
  "consent-required": "CONSENT_REQUIRED",
  "consent-invalid": "CONSENT_INVALID",
  "legal-order-required": "LEGAL_ORDER_REQUIRED",
  condition: "CONDITION_NOT_MET",
};

/**
 * Default deny. Pure: the same bundle and request give the same decision.
 * A grant matches when it names this consumer (or its agency), service and
 * purpose, has not expired, has the consent it requires and its condition
 * holds. Released = requested paths within the union of the matching grants'
 * ceilings (narrowed to the consent's fields where the consent names some); a
 * requested path above the ceiling (`household` when only
 * `household.members.name` is granted) is narrowed to what the ceiling allows
 * and also named as withheld.
 */
export function decide(bundle: PolicyBundle, req: PolicyRequest): Decision {
  const forService = (bundle.grantsByService.get(req.service) ?? []).filter((g) =>
    grantApplies(g, req.consumer),
  );
  if (forService.length === 0) {
    return deny(bundle, req, "NO_GRANT", `no grant lets ${req.consumer.uri} read ${req.service}`, [], []);
  }
  const consentIssue: ConsentProblem | undefined =
    req.consentId === ""
      ? undefined
      : consentProblem(req.consent, {
          subjectId: req.subjectId,
          consumer: req.consumer.uri,
          service: req.service,
          purpose: req.purpose,
          now: req.now,
        });
  const consentHolds = req.consentId !== "" && consentIssue === undefined;

  const trace: GrantTrace[] = [];
  const matched: Grant[] = [];
  for (const g of forService) {
    const t = (result: GrantTrace["result"], detail: string) =>
      trace.push({ grant: g.id, source: g.source, result, detail });
    if (!g.purposes.has(req.purpose)) {
      t("purpose", `grants purposes ${[...g.purposes].join(", ")}, not ${req.purpose}`);
      continue;
    }
    if (g.expiresAt !== undefined && req.now >= g.expiresAt) {
      t("expired", `expired at ${new Date(g.expiresAt).toISOString()}`);
      continue;
    }
    if (g.consentRequired && req.consentId === "") {
      t("consent-required", "requires the citizen's consent; the request names none");
      continue;
    }
    if (g.consentRequired && consentIssue !== undefined) {
      t("consent-invalid", `the consent named does not hold: ${consentIssue}`);
      continue;
    }
    if (g.discloseAfter && !req.legalOrderRef) {
      t(
        "legal-order-required",
        "is covert (disclose_after): the request must name its legal order (legal_order_ref)",
      );
      continue;
    }
    if (g.condition) {
      const r = g.condition.evaluate({
        service: req.service,
        purpose: req.purpose,
        fields: req.fields,
        released: () => releasedLeaves(bundle, req, g),
        consumer: req.consumer.uri,
        consumerAgency: req.consumer.agency,
        consumerSystem: req.consumer.name,
        subject: req.subjectId,
        consent: consentHolds,
        now: req.now,
        utcOffsetMinutes: bundle.utcOffsetMinutes,
      });
      if (!r.holds) {
        t(
          "condition",
          r.error ? `condition failed: ${r.error}` : `condition is false: ${g.condition.source}`,
        );
        continue;
      }
    }
    t("matched", g.consentRequired ? "matched, with the citizen's consent" : "matched");
    matched.push(g);
  }

  if (matched.length === 0) {
    let furthest = trace[0];
    for (const t of trace) if (furthest && STAGE[t.result] > STAGE[furthest.result]) furthest = t;
    const result = (furthest?.result ?? "purpose") as Exclude<GrantTrace["result"], "matched">;
    const reason = REASON[result];
    const text =
      reason === "PURPOSE_NOT_GRANTED"
        ? `${req.consumer.uri} may read ${req.service}, but not for purpose ${req.purpose}`
        : `${req.consumer.uri} may not read ${req.service} for ${req.purpose}: ${furthest?.detail ?? ""}`;
    return deny(bundle, req, reason, text, [], trace);
  }

  const ceiling = new Set<string>();
  for (const g of matched) addCeiling(ceiling, g, req);
  const { released, withheld } = release(ceiling, req.fields);
  const matchedGrants = matched.map((g) => g.id);
  if (released.size === 0) {
    return {
      ...deny(
        bundle,
        req,
        "NO_FIELDS_RELEASED",
        `none of the requested fields of ${req.service} is granted to ${req.consumer.uri}`,
        withheld,
        trace,
      ),
      matchedGrants,
    };
  }
  const rates: { grant: string; rate: Rate }[] = [];
  for (const g of matched) if (g.rate) rates.push({ grant: g.id, rate: g.rate });
  let discloseAt: number | undefined;
  for (const g of matched) {
    if (!g.discloseAfter) {
      discloseAt = undefined;
      break;
    }
    const at = disclosureTime(g.discloseAfter, req.now, bundle.utcOffsetMinutes);
    discloseAt = discloseAt === undefined ? at : Math.min(discloseAt, at);
  }
  return {
    allow: true,
    denyReason: undefined,
    explanation: `allowed by ${matchedGrants.join(", ")}`,
    matchedGrants,
    released: [...released],
    withheld,
    bundleHash: bundle.hash,
    trace,
    rates,
    // An embargo that has already run out is none.
    discloseAt: discloseAt !== undefined && discloseAt > req.now ? discloseAt : undefined,
  };
}

/** Adds grant `g`'s ceiling to `ceiling`, narrowed to the consent's fields where it requires one that names some. */
function addCeiling(ceiling: Set<string>, g: Grant, req: PolicyRequest): void {
  const consentFields = g.consentRequired ? (req.consent?.fields ?? []) : [];
  for (const c of g.fields) {
    if (consentFields.length === 0 || consentFields.some((f) => covers(f, c))) ceiling.add(c);
    else for (const f of consentFields) if (covers(c, f)) ceiling.add(f);
  }
}

/**
 * The requested paths within `ceiling` (the whole ceiling when none is requested); a requested path above
 * the ceiling is narrowed to the ceiling's paths below it and named as withheld.
 */
function release(
  ceiling: Set<string>,
  requested: readonly string[],
): { released: Set<string>; withheld: string[] } {
  // Nothing asked for: the whole ceiling, as it is (no path of it lies outside it).
  if (requested.length === 0) return { released: ceiling, withheld: [] };
  const ceilingPaths = [...ceiling];
  const released = new Set<string>();
  const withheld: string[] = [];
  for (const path of requested) {
    // Indexed loops: iterating a Set per requested path allocated an iterator result per step (~2 KB a decision).
    let inside = false;
    for (let i = 0; i < ceilingPaths.length && !inside; i++) inside = covers(ceilingPaths[i] as string, path);
    if (inside) {
      released.add(path);
      continue;
    }
    withheld.push(path);
    for (const c of ceilingPaths) if (covers(path, c)) released.add(c);
  }
  return { released, withheld };
}

/**
 * A condition's `released`: what grant `g` alone would release of this request, as leaf paths of the
 * record type (`address` → `address.village`, `address.gewog`, …), so that asking for a parent path or
 * for nothing cannot hide a field from the condition.
 */
function releasedLeaves(bundle: PolicyBundle, req: PolicyRequest, g: Grant): string[] {
  const ceiling = new Set<string>();
  addCeiling(ceiling, g, req);
  const paths = [...release(ceiling, req.fields).released];
  const leaves = bundle.leafPaths.get(req.service) ?? [];
  return leaves.filter((leaf) => paths.some((p) => covers(p, leaf)));
}

function deny(
  bundle: PolicyBundle,
  req: PolicyRequest,
  denyReason: DenyReason,
  explanation: string,
  withheld: readonly string[] | undefined,
  trace: readonly GrantTrace[],
): Decision {
  return {
    allow: false,
    denyReason,
    explanation,
    matchedGrants: [],
    released: [],
    withheld: withheld && withheld.length > 0 ? withheld : [...req.fields],
    bundleHash: bundle.hash,
    trace,
    rates: [],
    discloseAt: undefined,
  };
}

export interface ServiceGrantSummary {
  readonly service: string;
  readonly purposes: readonly string[];
  readonly fields: readonly string[];
  /** Every grant of this consumer for the service requires consent. */
  readonly consentRequired: boolean;
}

/** What a consumer may use: per service, the purposes and the field ceiling (for Exchange.ListServices). */
export function grantsFor(bundle: PolicyBundle, consumer: WorkloadId): ServiceGrantSummary[] {
  const byService = new Map<string, { purposes: Set<string>; fields: Set<string>; consent: boolean }>();
  for (const g of bundle.grants) {
    if (!grantApplies(g, consumer)) continue;
    const s = byService.get(g.service) ?? { purposes: new Set(), fields: new Set(), consent: true };
    for (const p of g.purposes) s.purposes.add(p);
    for (const f of g.fields) s.fields.add(f);
    s.consent &&= g.consentRequired;
    byService.set(g.service, s);
  }
  return [...byService].map(([service, s]) => ({
    service,
    purposes: [...s.purposes].sort(),
    fields: [...s.fields].sort(),
    consentRequired: s.consent,
  }));
}
