import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { type Document, isMap, isNode, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import type { ZodError } from "zod";
import { type Catalogue, parseWorkloadId } from "../../core/contract/index.js";
import { type BundleFile, bundleSchema } from "./bundle-schema.js";
import type { Condition } from "./condition.js";
import type { Disclosure } from "./disclosure.js";
import type { Rate } from "./rate.js";

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
  /**
   * A covert grant (`disclose_after`): each request under it must name a legal order, and the citizen
   * view shows the exchange only from this delay (or day) on. Undefined: shown at once.
   */
  readonly discloseAfter: Disclosure | undefined;
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
  /**
   * The leaf field paths of each service's record type (paths with no field below them; a recursive
   * type's deepest path counts as one): what a condition's `released` lists.
   */
  readonly leafPaths: ReadonlyMap<string, readonly string[]>;
  /** Minutes east of UTC of the federation's local time (`utc_offset`, default +06:00): for `hour`, `weekday`, `expires`. */
  readonly utcOffsetMinutes: number;
}

export class BundleError extends Error {
  override readonly name = "BundleError";
  constructor(readonly problems: readonly string[]) {
    super(`policy bundle refused:\n  ${problems.join("\n  ")}`);
  }
}

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

const DEFAULT_UTC_OFFSET_MINUTES = 6 * 60;
const TOP_KEYS = "purposes, grants, consent_authorities or utc_offset";
/** A grant's keys whose problem is reported at their own line: an expression is fixed where it is written. */
const OWN_LINE = new Set(["condition", "rate", "expires", "disclose_after"]);
const KIND: Readonly<Record<string, string>> = { grants: "grant", purposes: "purpose" };

/** One file of the bundle as the YAML parser read it; `order`: its place in the bundle. */
interface YamlFile {
  name: string;
  order: number;
  doc: Document;
  lines: LineCounter;
}

/** A problem and where it is, so the list reads file by file, top to bottom. */
interface Problem {
  order: number;
  line: number;
  text: string;
}

type At = (path: readonly PropertyKey[]) => string;

export function parseBundle(
  files: readonly { name: string; text: string }[],
  { catalogue, trustDomain }: { catalogue: Catalogue; trustDomain: string },
): PolicyBundle {
  const problems: Problem[] = [];
  const read: YamlFile[] = [];
  const hash = createHash("sha256");
  files.forEach((file, order) => {
    const name = basename(file.name);
    hash.update(`${name}\0${Buffer.byteLength(file.text)}\0`).update(file.text);
    const lines = new LineCounter();
    const doc = parseDocument(file.text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
    for (const e of doc.errors) {
      const { line } = lines.linePos(e.pos[0]);
      problems.push({ order, line, text: `${name}:${line}: ${e.message.split("\n")[0]}` });
    }
    // A file that does not parse is left out; the others are still checked, for their own problems.
    if (doc.errors.length === 0) read.push({ name, order, doc, lines });
  });

  const input: unknown[] = read.map((f) => (f.doc.contents === null ? {} : f.doc.toJS()));
  const at: At = (path) => placeOf(read, path).text;
  const parsed = bundleSchema({ catalogue, trustDomain, at }).safeParse(input);
  if (!parsed.success) problems.push(...bundleProblems(parsed.error, read, input));
  if (problems.length > 0 || !parsed.success)
    throw new BundleError(problems.sort((x, y) => x.order - y.order || x.line - y.line).map((p) => p.text));
  return bundleOf(parsed.data, { hash: hash.digest("hex"), trustDomain, at, catalogue });
}

/** The checked files as decisions read them. */
function bundleOf(
  files: readonly BundleFile[],
  o: { hash: string; trustDomain: string; at: At; catalogue: Catalogue },
): PolicyBundle {
  const utcOffsetMinutes =
    files.find((f) => f.utc_offset !== undefined)?.utc_offset ?? DEFAULT_UTC_OFFSET_MINUTES;
  const purposes = new Map<string, Purpose>();
  const grants: Grant[] = [];
  const consentAuthorities = new Set<string>();
  files.forEach((f, i) => {
    for (const p of f.purposes ?? [])
      purposes.set(p.id, { id: p.id, description: p.description, legalBasis: p.legal_basis });
    for (const a of f.consent_authorities ?? []) consentAuthorities.add(a);
    f.grants?.forEach((g, j) => {
      const { expires } = g;
      grants.push({
        id: g.id,
        description: g.description,
        consumer: g.consumer,
        consumerAgency:
          g.consumer === undefined ? (g.consumer_agency ?? "") : parseWorkloadId(g.consumer).agency,
        service: g.service,
        purposes: new Set(g.purposes),
        fields: g.fields,
        consentRequired: g.consent === "required",
        condition: g.condition,
        rate: g.rate,
        // The grant holds through the whole of that day, local time.
        expiresAt:
          expires && Date.UTC(expires.year, expires.month - 1, expires.day + 1) - utcOffsetMinutes * 60_000,
        discloseAfter: g.disclose_after,
        source: o.at([i, "grants", j]),
      });
    });
  });
  const grantsByService = new Map<string, Grant[]>();
  for (const g of grants) {
    const list = grantsByService.get(g.service) ?? [];
    list.push(g);
    grantsByService.set(g.service, list);
  }
  return {
    hash: o.hash,
    trustDomain: o.trustDomain,
    purposes,
    grants,
    grantsByService,
    consentAuthorities,
    leafPaths: leafPathsOf(o.catalogue),
    utcOffsetMinutes,
  };
}

/** Per service, the paths of its record type that have no path below them, in the catalogue's order. */
function leafPathsOf(catalogue: Catalogue): Map<string, readonly string[]> {
  const leaves = new Map<string, readonly string[]>();
  for (const [service, entry] of catalogue.services) {
    const parents = new Set<string>();
    for (const p of entry.fieldPaths) {
      const dot = p.lastIndexOf(".");
      if (dot > 0) parents.add(p.slice(0, dot));
    }
    leaves.set(
      service,
      [...entry.fieldPaths].filter((p) => !parents.has(p)),
    );
  }
  return leaves;
}

/**
 * Where a place in the files is (a path into the schema's input: file index,
 * then keys), as `file:line`. A grant's or purpose's own keys are reported at
 * the entry's first line, where it is named, except OWN_LINE.
 */
function placeOf(files: readonly YamlFile[], path: readonly PropertyKey[]): Problem {
  const [i, ...rest] = path;
  const file = files[i as number];
  if (!file) return { order: 0, line: 0, text: "?" };
  const [list, , key] = rest;
  const inEntry = typeof list === "string" && KIND[list] !== undefined && rest.length > 2;
  return lineOf(file, nodeAt(file.doc, inEntry && !OWN_LINE.has(String(key)) ? rest.slice(0, 2) : rest));
}

function lineOf(file: YamlFile, node: Node | null | undefined): Problem {
  const offset = node?.range?.[0];
  if (offset === undefined) return { order: file.order, line: 0, text: file.name };
  const { line } = file.lines.linePos(offset);
  return { order: file.order, line, text: `${file.name}:${line}` };
}

/** The node a path names, or the nearest one above it that exists. */
function nodeAt(doc: Document, path: readonly PropertyKey[]): Node | null | undefined {
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node)) return node;
  }
  return doc.contents;
}

/**
 * The bundle's problems from its schema's issues: `file:line: reason`, and
 * within a grant or purpose `file:line: grant ID: reason`. An unknown key is
 * reported at the key, one line each; a problem with the id itself names the
 * entry by its kind, as the id cannot name it.
 */
function bundleProblems(error: ZodError, files: readonly YamlFile[], input: readonly unknown[]): Problem[] {
  return error.issues.flatMap((issue) => {
    const [i, list, , key] = issue.path;
    const file = files[i as number];
    const kind = typeof list === "string" ? KIND[list] : undefined;
    if (issue.code === "unrecognized_keys") {
      const holder = file ? nodeAt(file.doc, issue.path.slice(1)) : undefined;
      return issue.keys.map((k) => {
        const keyNode = isMap(holder)
          ? holder.items.find((p) => isScalar(p.key) && String(p.key.value) === k)?.key
          : undefined;
        const at = file ? lineOf(file, isNode(keyNode) ? keyNode : holder) : placeOf(files, []);
        const what = kind ? `in a ${kind}` : `(expected ${TOP_KEYS})`;
        return { ...at, text: `${at.text}: unknown key ${JSON.stringify(k)} ${what}` };
      });
    }
    const entry = kind ? valueAt(input, issue.path.slice(0, 3)) : undefined;
    const named = isRecord(entry) && key !== "id";
    const id = named ? entry.id : undefined;
    const subject = named ? `${kind} ${typeof id === "string" ? id : "?"}: ` : "";
    const at = placeOf(files, issue.path);
    return [{ ...at, text: `${at.text}: ${subject}${issue.message}` }];
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | null | undefined)?.[k], value);
}
