import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import type { Catalogue } from "../../core/catalogue.js";
import { isAgencyName } from "../../core/service-name.js";
import { parseWorkloadId } from "../../core/spiffe-id.js";

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
  /** Where it was written, for explanations. */
  readonly source: string;
}

export interface PolicyBundle {
  /** Lowercase hex SHA-256 over the bundle's files (names and bytes), in name order. */
  readonly hash: string;
  readonly trustDomain: string;
  readonly purposes: ReadonlyMap<string, Purpose>;
  readonly grants: readonly Grant[];
}

export class BundleError extends Error {
  override readonly name = "BundleError";
  constructor(readonly problems: readonly string[]) {
    super(`policy bundle refused:\n  ${problems.join("\n  ")}`);
  }
}

const ID = /^[a-z][a-z0-9-]{0,62}$/;
const TOP_KEYS = new Set(["purposes", "grants"]);
const PURPOSE_KEYS = new Set(["id", "description", "legal_basis"]);
const GRANT_KEYS = new Set([
  "id",
  "description",
  "consumer",
  "consumer_agency",
  "service",
  "purposes",
  "fields",
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
          `${at(pair.key as Node)}: unknown key ${JSON.stringify(key)} (expected purposes or grants)`,
        );
        continue;
      }
      if (!isSeq(pair.value)) {
        problems.push(`${at(pair.value as Node)}: ${key} must be a list`);
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
  const grantIds = new Set<string>();
  for (const { node, at } of grantSites) {
    const g = readGrant(node, at, problems, { catalogue, trustDomain, purposes });
    if (!g) continue;
    if (grantIds.has(g.id)) {
      problems.push(`${g.source}: grant id ${JSON.stringify(g.id)} is used twice`);
      continue;
    }
    grantIds.add(g.id);
    grants.push(g);
  }
  if (problems.length > 0) throw new BundleError(problems);
  return { hash: hash.digest("hex"), trustDomain, purposes, grants };
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
  ctx: { catalogue: Catalogue; trustDomain: string; purposes: ReadonlyMap<string, Purpose> },
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
  if (problems.length > before || !id) return undefined;
  return {
    id,
    description: str(f.get("description")) ?? "",
    consumer,
    consumerAgency,
    service,
    purposes,
    fields,
    source: at(map),
  };
}
