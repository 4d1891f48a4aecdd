import type { WorkloadId } from "../../core/spiffe-id.js";
import type { Grant, PolicyBundle } from "./bundle.js";

export interface PolicyRequest {
  readonly consumer: WorkloadId;
  /** A service that exists in the catalogue (validated before). */
  readonly service: string;
  /** A purpose that exists in the bundle (validated before). */
  readonly purpose: string;
  /** Valid field paths of the record type; empty asks for the whole ceiling. */
  readonly fields: readonly string[];
}

export type DenyReason = "NO_GRANT" | "PURPOSE_NOT_GRANTED" | "NO_FIELDS_RELEASED";

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
}

/** True when `path` is `ancestor` or lies below it. */
export function covers(ancestor: string, path: string): boolean {
  return path === ancestor || (path.startsWith(ancestor) && path.charAt(ancestor.length) === ".");
}

function grantApplies(g: Grant, consumer: WorkloadId, service: string): boolean {
  if (g.service !== service) return false;
  return g.consumer === undefined ? g.consumerAgency === consumer.agency : g.consumer === consumer.uri;
}

/**
 * Default deny. Pure: the same bundle and request give the same decision.
 * Released = requested paths within the union of the matching grants' ceilings;
 * a requested path above the ceiling (`household` when only
 * `household.members.name` is granted) is narrowed to what the ceiling allows
 * and also named as withheld.
 */
export function decide(bundle: PolicyBundle, req: PolicyRequest): Decision {
  const base = { bundleHash: bundle.hash };
  const forService = bundle.grants.filter((g) => grantApplies(g, req.consumer, req.service));
  if (forService.length === 0) {
    return {
      ...base,
      allow: false,
      denyReason: "NO_GRANT",
      explanation: `no grant lets ${req.consumer.uri} read ${req.service}`,
      matchedGrants: [],
      released: [],
      withheld: [...req.fields],
    };
  }
  const matched = forService.filter((g) => g.purposes.has(req.purpose));
  if (matched.length === 0) {
    return {
      ...base,
      allow: false,
      denyReason: "PURPOSE_NOT_GRANTED",
      explanation: `${req.consumer.uri} may read ${req.service}, but not for purpose ${req.purpose}`,
      matchedGrants: [],
      released: [],
      withheld: [...req.fields],
    };
  }
  const ceiling = [...new Set(matched.flatMap((g) => g.fields))];
  const requested = req.fields.length > 0 ? req.fields : ceiling;
  const released = new Set<string>();
  const withheld: string[] = [];
  for (const path of requested) {
    if (ceiling.some((c) => covers(c, path))) {
      released.add(path);
      continue;
    }
    withheld.push(path);
    for (const c of ceiling) if (covers(path, c)) released.add(c);
  }
  const matchedGrants = matched.map((g) => g.id);
  if (released.size === 0) {
    return {
      ...base,
      allow: false,
      denyReason: "NO_FIELDS_RELEASED",
      explanation: `none of the requested fields of ${req.service} is granted to ${req.consumer.uri}`,
      matchedGrants,
      released: [],
      withheld,
    };
  }
  return {
    ...base,
    allow: true,
    denyReason: undefined,
    explanation: `allowed by ${matchedGrants.join(", ")}`,
    matchedGrants,
    released: [...released],
    withheld,
  };
}

export interface ServiceGrantSummary {
  readonly service: string;
  readonly purposes: readonly string[];
  readonly fields: readonly string[];
}

/** What a consumer may use: per service, the purposes and the field ceiling (for Exchange.ListServices). */
export function grantsFor(bundle: PolicyBundle, consumer: WorkloadId): ServiceGrantSummary[] {
  const byService = new Map<string, { purposes: Set<string>; fields: Set<string> }>();
  for (const g of bundle.grants) {
    if (!grantApplies(g, consumer, g.service)) continue;
    const s = byService.get(g.service) ?? { purposes: new Set(), fields: new Set() };
    for (const p of g.purposes) s.purposes.add(p);
    for (const f of g.fields) s.fields.add(f);
    byService.set(g.service, s);
  }
  return [...byService].map(([service, s]) => ({
    service,
    purposes: [...s.purposes].sort(),
    fields: [...s.fields].sort(),
  }));
}
