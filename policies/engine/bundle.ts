import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import type { Catalogue } from "../../core/contract/index.js";
import { isAgencyName, parseWorkloadId } from "../../core/contract/index.js";
import { type Condition, compileCondition } from "./condition.js";
import { parseRate, type Rate } from "./rate.js";

/**
 * The federation's policy bundle: every `*.yaml` file in one folder, read and
 * checked as a whole. A bundle that does not check is refused whole, with
 * file, line and reason for each problem; nothing of it is used.
 */
export interface Purpose {
  readonly id: string;
  readonly description: string;
  readonly legalBasis: string;
}

export interface Grant {
  readonly id: string;
  readonly description: string;
  /** Exact SPIFFE ID of a consumer system, or undefined when the grant is agency-wide. */
  readonly consumer: string | undefined;
  /** Agency of the consumer; set for exact and agency-wide grants alike. */
  readonly consumerAgency: string;
  readonly service: string;
  readonly purposes: ReadonlySet<string>;
  /** The field ceiling: paths into the service's record type. */
  readonly fields: readonly string[];
  /** The request must name a consent the citizen gave for this consumer, service and purpose. */
  readonly consentRequired: boolean;
  /** CEL over the request, the subject and the time; the grant applies only when it holds. */
  readonly condition: Condition | undefined;
  /** At most this many requests per consumer system for this grant. */
  readonly rate: Rate | undefined;
  /** The grant applies before this instant (ms since the epoch): the end of its `expires` day, local time. */
  readonly expiresAt: number | undefined;
  /** Where it was written, for explanations. */
  readonly source: string;
}

export interface PolicyBundle {
  /** Lowercase hex SHA-256 over the bundle's files (names and bytes), in name order. */
  readonly hash: string;
  readonly trustDomain: string;
  readonly purposes: ReadonlyMap<string, Purpose>;
  readonly grants: readonly Grant[];
  /** The grants of each service, in bundle order: what a decision looks at. */
  readonly grantsByService: ReadonlyMap<string, readonly Grant[]>;
  /** SPIFFE IDs that may call xbus.v1.Consent (e.g. the citizen portal). */
  readonly consentAuthorities: ReadonlySet<string>;
  /** Minutes east of UTC of the federation's local time (`utc_offset`, default +06:00): for `hour`, `weekday`, `expires`. */
  readonly utcOffsetMinutes: number;
}

export class BundleError extends Error {
  override readonly name = "BundleError";
  constructor(readonly problems: readonly string[]) {
    super(`policy bundle refused:\n  ${problems.join("\n  ")}`);
  }
}

const ID = /^[a-z][a-z0-9-]{0,62}$/;
const TOP_KEYS = new Set(["purposes", "grants", "consent_authorities", "utc_offset"]);
const DEFAULT_UTC_OFFSET_MINUTES = 6 * 60;
const UTC_OFFSET = /^([+-])([01][0-9]|2[0-3]):([0-5][0-9])$/;
const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const PURPOSE_KEYS = new Set(["id", "description", "legal_basis"]);
const GRANT_KEYS = new Set([
  "id",
  "description",
  "consumer",
  "consumer_agency",
  "service",
  "purposes",
  "fields",
  "consent",
  "condition",
  "rate",
  "expires",
]);

export interface LoadBundleOptions {
  dir: string;
  catalogue: Catalogue;
  trustDomain: string;
}

/** Reads and checks every `*.yaml` in `dir`; throws BundleError listing every problem found. */
export function loadBundle({ dir, catalogue, trustDomain }: LoadBundleOptions): PolicyBundle {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort();
  return parseBundle(
    files.map((f) => ({ name: f, text: readFileSync(join(dir, f), "utf8") })),
    { catalogue, trustDomain },
  );
}

export function parseBundle(
  files: readonly { name: string; text: string }[],
  { catalogue, trustDomain }: { catalogue: Catalogue; trustDomain: string },
): PolicyBundle {
  const problems: string[] = [];
  const purposes = new Map<string, Purpose>();
  const grants: Grant[] = [];
  const grantSites: { node: YAMLMap; at: (n: Node | null | undefined) => string }[] = [];
  const consentAuthorities = new Set<string>();
  let utcOffset: { minutes: number; where: string } | undefined;
  const hash = createHash("sha256");

  for (const file of files) {
    const name = basename(file.name);
    hash.update(`${name}\0${Buffer.byteLength(file.text)}\0`).update(file.text);
    const lines = new LineCounter();
    const doc = parseDocument(file.text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
    const at = (n: Node | null | undefined) => {
      const offset = n?.range?.[0];
      return offset === undefined ? name : `${name}:${lines.linePos(offset).line}`;
    };
    for (const e of doc.errors)
      problems.push(`${name}:${lines.linePos(e.pos[0]).line}: ${e.message.split("\n")[0]}`);
    if (doc.errors.length > 0) continue;
    const root = doc.contents;
    if (root === null) continue;
    if (!isMap(root)) {
      problems.push(`${at(root)}: the file must be a mapping with keys purposes and/or grants`);
      continue;
    }
    for (const pair of root.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      if (!TOP_KEYS.has(key)) {
        problems.push(
          `${at(pair.key as Node)}: unknown key ${JSON.stringify(key)} (expected purposes, grants, consent_authorities or utc_offset)`,
        );
        continue;
      }
      if (key === "utc_offset") {
        const where = at(pair.value as Node);
        const v = isScalar(pair.value) ? pair.value.value : undefined;
        const m = typeof v === "string" ? UTC_OFFSET.exec(v) : null;
        if (!m) {
          problems.push(`${where}: utc_offset must look like +06:00`);
          continue;
        }
        const minutes = (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
        if (utcOffset && utcOffset.minutes !== minutes)
          problems.push(`${where}: utc_offset differs from the one at ${utcOffset.where}`);
        utcOffset = { minutes, where };
        continue;
      }
      if (!isSeq(pair.value)) {
        problems.push(`${at(pair.value as Node)}: ${key} must be a list`);
        continue;
      }
      if (key === "consent_authorities") {
        for (const item of pair.value.items) {
          const v = isScalar(item) ? item.value : undefined;
          const problem = typeof v === "string" ? systemIdProblem(v, trustDomain) : "is not a SPIFFE ID";
          if (problem)
            problems.push(`${at(item as Node)}: consent authority ${JSON.stringify(v)} ${problem}`);
          else consentAuthorities.add(v as string);
        }
        continue;
      }
      for (const item of pair.value.items) {
        if (!isMap(item)) {
          problems.push(`${at(item as Node)}: each entry of ${key} must be a mapping`);
          continue;
        }
        if (key === "purposes") readPurpose(item, at, problems, purposes);
        else grantSites.push({ node: item, at });
      }
    }
  }

  // Grants are checked after every purpose is known, whatever the file order.
  const utcOffsetMinutes = utcOffset?.minutes ?? DEFAULT_UTC_OFFSET_MINUTES;
  const grantIds = new Set<string>();
  for (const { node, at } of grantSites) {
    const g = readGrant(node, at, problems, { catalogue, trustDomain, purposes, utcOffsetMinutes });
    if (!g) continue;
    if (grantIds.has(g.id)) {
      problems.push(`${g.source}: grant id ${JSON.stringify(g.id)} is used twice`);
      continue;
    }
    grantIds.add(g.id);
    grants.push(g);
  }
  if (problems.length > 0) throw new BundleError(problems);
  const grantsByService = new Map<string, Grant[]>();
  for (const g of grants) {
    const list = grantsByService.get(g.service) ?? [];
    list.push(g);
    grantsByService.set(g.service, list);
  }
  return {
    hash: hash.digest("hex"),
    trustDomain,
    purposes,
    grants,
    grantsByService,
    consentAuthorities,
    utcOffsetMinutes,
  };
}

function systemIdProblem(uri: string, trustDomain: string): string | undefined {
  try {
    const wid = parseWorkloadId(uri);
    if (wid.trustDomain !== trustDomain) return `is outside trust domain ${trustDomain}`;
    if (wid.role !== "system") return "is not a system identity";
    return undefined;
  } catch (err) {
    return `is not valid: ${(err as Error).message}`;
  }
}

type At = (n: Node | null | undefined) => string;

function fieldsOf(map: YAMLMap, allowed: Set<string>, at: At, problems: string[], what: string) {
  const out = new Map<string, { value: unknown; node: Node }>();
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (!allowed.has(key)) {
      problems.push(`${at(pair.key as Node)}: unknown key ${JSON.stringify(key)} in ${what}`);
      continue;
    }
    const node = pair.value as Node;
    out.set(key, {
      value: isSeq(node) || isMap(node) ? node.toJSON() : isScalar(node) ? node.value : null,
      node,
    });
  }
  return out;
}

function str(v: { value: unknown } | undefined): string | undefined {
  return typeof v?.value === "string" ? v.value : undefined;
}

function readPurpose(map: YAMLMap, at: At, problems: string[], purposes: Map<string, Purpose>) {
  const f = fieldsOf(map, PURPOSE_KEYS, at, problems, "a purpose");
  const id = str(f.get("id"));
  if (!id || !ID.test(id)) {
    problems.push(`${at(map)}: purpose id must be lowercase letters, digits and dashes`);
    return;
  }
  const legalBasis = str(f.get("legal_basis"));
  if (!legalBasis) problems.push(`${at(map)}: purpose ${id} needs a legal_basis`);
  if (purposes.has(id)) problems.push(`${at(map)}: purpose ${id} is defined twice`);
  purposes.set(id, { id, description: str(f.get("description")) ?? "", legalBasis: legalBasis ?? "" });
}

function readGrant(
  map: YAMLMap,
  at: At,
  problems: string[],
  ctx: {
    catalogue: Catalogue;
    trustDomain: string;
    purposes: ReadonlyMap<string, Purpose>;
    utcOffsetMinutes: number;
  },
): Grant | undefined {
  const before = problems.length;
  const f = fieldsOf(map, GRANT_KEYS, at, problems, "a grant");
  const id = str(f.get("id"));
  if (!id || !ID.test(id)) problems.push(`${at(map)}: grant id must be lowercase letters, digits and dashes`);
  const where = `${at(map)}: grant ${id ?? "?"}`;

  let consumer: string | undefined;
  let consumerAgency = "";
  const exact = str(f.get("consumer"));
  const agency = str(f.get("consumer_agency"));
  if ((exact === undefined) === (agency === undefined)) {
    problems.push(`${where}: give exactly one of consumer (a SPIFFE ID) or consumer_agency`);
  } else if (exact !== undefined) {
    try {
      const wid = parseWorkloadId(exact);
      if (wid.trustDomain !== ctx.trustDomain)
        problems.push(`${where}: consumer ${exact} is outside trust domain ${ctx.trustDomain}`);
      else if (wid.role !== "system") problems.push(`${where}: consumer ${exact} is not a system identity`);
      consumer = exact;
      consumerAgency = wid.agency;
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  } else if (agency !== undefined) {
    if (isAgencyName(agency)) consumerAgency = agency;
    else problems.push(`${where}: consumer_agency ${JSON.stringify(agency)} is not an agency name`);
  }

  const service = str(f.get("service")) ?? "";
  const entry = ctx.catalogue.get(service);
  if (!entry) problems.push(`${where}: unknown service ${JSON.stringify(service)}`);

  const purposesValue = f.get("purposes")?.value;
  const purposes = new Set<string>();
  if (!Array.isArray(purposesValue) || purposesValue.length === 0) {
    problems.push(`${where}: purposes must be a non-empty list`);
  } else {
    for (const p of purposesValue) {
      if (typeof p === "string" && ctx.purposes.has(p)) purposes.add(p);
      else problems.push(`${where}: unknown purpose ${JSON.stringify(p)}`);
    }
  }

  const fieldsValue = f.get("fields")?.value;
  const fields: string[] = [];
  if (!Array.isArray(fieldsValue) || fieldsValue.length === 0) {
    problems.push(`${where}: fields must be a non-empty list`);
  } else {
    for (const p of fieldsValue) {
      if (typeof p === "string" && entry?.fieldPaths.has(p)) fields.push(p);
      else if (entry)
        problems.push(`${where}: ${JSON.stringify(p)} is not a field of ${entry.recordType.typeName}`);
    }
  }
  const consentValue = f.get("consent")?.value;
  let consentRequired = false;
  if (consentValue !== undefined) {
    if (consentValue === "required") consentRequired = true;
    else if (consentValue !== "not-required")
      problems.push(
        `${where}: consent must be required or not-required, not ${JSON.stringify(consentValue)}`,
      );
  }

  let condition: Condition | undefined;
  const conditionField = f.get("condition");
  if (conditionField !== undefined) {
    if (typeof conditionField.value !== "string") {
      problems.push(
        `${at(conditionField.node)}: grant ${id ?? "?"}: condition must be a CEL expression (a string)`,
      );
    } else {
      try {
        condition = compileCondition(conditionField.value);
      } catch (err) {
        problems.push(`${at(conditionField.node)}: grant ${id ?? "?"}: ${(err as Error).message}`);
      }
    }
  }

  let rate: Rate | undefined;
  const rateField = f.get("rate");
  if (rateField !== undefined) {
    try {
      rate = parseRate(String(rateField.value));
    } catch (err) {
      problems.push(`${at(rateField.node)}: grant ${id ?? "?"}: ${(err as Error).message}`);
    }
  }

  let expiresAt: number | undefined;
  const expiresField = f.get("expires");
  if (expiresField !== undefined) {
    const m = typeof expiresField.value === "string" ? DATE.exec(expiresField.value) : null;
    const [y, mo, d] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
    const day = new Date(Date.UTC(y, mo - 1, d));
    if (!m || day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) {
      problems.push(
        `${at(expiresField.node)}: grant ${id ?? "?"}: expires must be a date YYYY-MM-DD, not ${JSON.stringify(expiresField.value)}`,
      );
    } else {
      // The grant holds through the whole of that day, local time.
      expiresAt = Date.UTC(y, mo - 1, d + 1) - ctx.utcOffsetMinutes * 60_000;
    }
  }

  if (problems.length > before || !id) return undefined;
  return {
    id,
    description: str(f.get("description")) ?? "",
    consumer,
    consumerAgency,
    service,
    purposes,
    fields,
    consentRequired,
    condition,
    rate,
    expiresAt,
    source: at(map),
  };
}
