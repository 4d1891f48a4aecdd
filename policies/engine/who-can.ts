import type { Catalogue } from "../../core/contract/index.js";
import type { PolicyBundle } from "./bundle.js";
import { covers } from "./decide.js";

export interface WhoCanRow {
  readonly grant: string;
  readonly source: string;
  /** A SPIFFE ID, or `agency:<name>` for an agency-wide grant. */
  readonly consumer: string;
  readonly purposes: readonly string[];
  /** The grant's fields that reach the target (all its fields when the target is a whole service). */
  readonly fields: readonly string[];
  /** Consent, condition, rate, expiry: what else must hold. */
  readonly terms: readonly string[];
}

/**
 * The data protection officer's report: which consumers can read SERVICE or
 * SERVICE.FIELD (e.g. `dcrc.citizen-record.household.members.name`), for
 * which purposes and on which terms. Throws an Error naming what is unknown.
 */
export function whoCan(bundle: PolicyBundle, catalogue: Catalogue, target: string): WhoCanRow[] {
  const [agency, name, ...rest] = target.split(".");
  const service = `${agency ?? ""}.${name ?? ""}`;
  const entry = catalogue.get(service);
  if (!entry) throw new Error(`${JSON.stringify(service)} is not a service of the catalogue`);
  const field = rest.join(".");
  if (field !== "" && !entry.fieldPaths.has(field))
    throw new Error(`${JSON.stringify(field)} is not a field of ${entry.recordType.typeName}`);
  const rows: WhoCanRow[] = [];
  for (const g of bundle.grantsByService.get(service) ?? []) {
    const fields = field === "" ? g.fields : g.fields.filter((f) => covers(f, field) || covers(field, f));
    if (fields.length === 0) continue;
    const terms: string[] = [];
    if (g.consentRequired) terms.push("consent required");
    if (g.condition) terms.push(`when ${g.condition.source}`);
    if (g.rate) terms.push(`rate ${g.rate.text}`);
    if (g.expiresAt !== undefined) terms.push(`until ${new Date(g.expiresAt).toISOString()}`);
    rows.push({
      grant: g.id,
      source: g.source,
      consumer: g.consumer ?? `agency:${g.consumerAgency}`,
      purposes: [...g.purposes],
      fields,
      terms,
    });
  }
  return rows;
}
