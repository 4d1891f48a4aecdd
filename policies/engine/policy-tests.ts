import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { isMap, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { Catalogue } from "../../core/contract/index.js";
import { parseWorkloadId, type WorkloadId } from "../../core/contract/index.js";
import type { PolicyBundle } from "./bundle.js";
import type { ConsentRecord } from "./consent.js";
import { type Decision, decide } from "./decide.js";
import { parseLocalTime } from "./local-time.js";

/**
 * Policy tests: requests with the decisions the bundle must give, in
 * `policies/tests/*.yaml`. A security officer reads them as the bundle's
 * specification; `xbus policy test` runs them and fails on any mismatch.
 *
 * ```yaml
 * at: 2027-03-10T10:00:00+06:00        # default time of the cases; without a zone, the bundle's utc_offset
 * cases:
 *   - name: scholarship office reads the applicant's identity
 *     consumer: spiffe://gov.bt/agency/moe/system/scholarships
 *     service: dcrc.citizen-record
 *     purpose: scholarship-eligibility
 *     fields: [name, gender]            # optional; empty = the whole ceiling
 *     consent: none                     # none | valid | revoked | expired | wrong-purpose | wrong-consumer | wrong-subject
 *     consent_fields: [name]            # optional, fields the simulated consent names
 *     legal_order_ref: CR/2027/12       # optional, the legal order a covert grant needs
 *     at: 2027-03-10T22:00:00+06:00     # optional
 *     expect:
 *       decision: allow                 # allow | deny
 *       reason: CONSENT_REQUIRED        # optional, the deny reason
 *       grants: [moe-scholarships-citizen-record]   # optional, matched grants
 *       released: [name]                # optional, in any order
 *       withheld: [gender]              # optional, in any order
 * ```
 */
export const CONSENT_CASES = [
  "none",
  "valid",
  "revoked",
  "expired",
  "wrong-purpose",
  "wrong-consumer",
  "wrong-subject",
] as const;
export type ConsentCase = (typeof CONSENT_CASES)[number];

export interface PolicyTestCase {
  readonly name: string;
  /** file:line, for the report. */
  readonly source: string;
  readonly consumer: WorkloadId;
  readonly service: string;
  readonly purpose: string;
  readonly fields: readonly string[];
  readonly subjectId: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly consent: ConsentCase;
  readonly consentFields: readonly string[];
  /** The legal order the request names; "" or absent for none. */
  readonly legalOrderRef?: string;
  readonly expect: {
    readonly decision: "allow" | "deny";
    readonly reason?: string;
    readonly grants?: readonly string[];
    readonly released?: readonly string[];
    readonly withheld?: readonly string[];
  };
}

export interface PolicyTestResult {
  readonly case: PolicyTestCase;
  readonly decision: Decision | undefined;
  /** One line per expectation that did not hold: `released: expected [a] got [a, b]`. */
  readonly diff: readonly string[];
}

export class PolicyTestFileError extends Error {
  override readonly name = "PolicyTestFileError";
  constructor(readonly problems: readonly string[]) {
    super(`policy tests refused:\n  ${problems.join("\n  ")}`);
  }
}

const FILE_KEYS = new Set(["at", "subject", "cases"]);
const CASE_KEYS = new Set([
  "name",
  "consumer",
  "service",
  "purpose",
  "fields",
  "subject",
  "at",
  "consent",
  "consent_fields",
  "legal_order_ref",
  "expect",
]);
const EXPECT_KEYS = new Set(["decision", "reason", "grants", "released", "withheld"]);
const DEFAULT_SUBJECT = "10000000001";
const DEFAULT_AT = "2027-03-10T10:00:00+06:00";

export interface PolicyTestOptions {
  /**
   * The bundle's `utc_offset` (`PolicyBundle.utcOffsetMinutes`): an `at` without a zone is read in it,
   * the local time the bundle's conditions and expiry dates use.
   */
  readonly utcOffsetMinutes: number;
}

/** Reads every `*.yaml` in `dir`; throws PolicyTestFileError naming file, line and problem. */
export function loadPolicyTests(dir: string, options: PolicyTestOptions): PolicyTestCase[] {
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  return parsePolicyTests(
    files.map((f) => ({ name: f, text: readFileSync(join(dir, f), "utf8") })),
    options,
  );
}

/** Why `value` is not a time a policy file can give, for `file:line: …`. */
export function timeProblem(what: string, value: unknown): string {
  return `${what} must be an ISO 8601 date or time, e.g. ${DEFAULT_AT} (without a zone it is the bundle's local time, utc_offset), not ${JSON.stringify(value)}`;
}

export function parsePolicyTests(
  files: readonly { name: string; text: string }[],
  { utcOffsetMinutes }: PolicyTestOptions,
): PolicyTestCase[] {
  const timeOf = (v: unknown) => (typeof v === "string" ? parseLocalTime(v, utcOffsetMinutes) : undefined);
  const problems: string[] = [];
  const cases: PolicyTestCase[] = [];
  for (const file of files) {
    const name = basename(file.name);
    const lines = new LineCounter();
    const doc = parseDocument(file.text, { lineCounter: lines, uniqueKeys: true });
    const at = (n: unknown) => {
      const offset = (n as Node | undefined)?.range?.[0];
      return offset === undefined ? name : `${name}:${lines.linePos(offset).line}`;
    };
    if (doc.errors.length > 0) {
      for (const e of doc.errors)
        problems.push(`${name}:${lines.linePos(e.pos[0]).line}: ${e.message.split("\n")[0]}`);
      continue;
    }
    const root = doc.contents;
    if (!isMap(root)) {
      problems.push(`${name}: the file must be a mapping with a cases list`);
      continue;
    }
    const top = root.toJSON() as Record<string, unknown>;
    for (const k of Object.keys(top))
      if (!FILE_KEYS.has(k)) problems.push(`${name}: unknown key ${JSON.stringify(k)}`);
    const casesNode = root.get("cases", true);
    if (!isSeq(casesNode)) {
      problems.push(`${name}: cases must be a list`);
      continue;
    }
    // A bad file-level time is reported once, at its line; the cases that would use it are left out.
    const fileAt = timeOf(top.at === undefined ? DEFAULT_AT : top.at);
    if (fileAt === undefined) problems.push(`${at(root.get("at", true))}: ${timeProblem("at", top.at)}`);
    const fileSubject = typeof top.subject === "string" ? top.subject : DEFAULT_SUBJECT;
    for (const item of casesNode.items) {
      const where = at(item);
      if (!isMap(item)) {
        problems.push(`${where}: each case must be a mapping`);
        continue;
      }
      const c = item.toJSON() as Record<string, unknown>;
      const before = problems.length;
      const bad = (what: string) => problems.push(`${where}: ${what}`);
      for (const k of Object.keys(c))
        if (!CASE_KEYS.has(k)) bad(`unknown key ${JSON.stringify(k)} in a case`);
      const str = (k: string) => (typeof c[k] === "string" ? (c[k] as string) : undefined);
      const list = (v: unknown, k: string): string[] | undefined => {
        if (v === undefined) return undefined;
        if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
        bad(`${k} must be a list of strings`);
        return undefined;
      };
      const caseName = str("name");
      if (!caseName) bad("a case needs a name");
      let consumer: WorkloadId | undefined;
      try {
        consumer = parseWorkloadId(str("consumer") ?? "");
      } catch (err) {
        bad(`consumer: ${(err as Error).message}`);
      }
      const service = str("service");
      const purpose = str("purpose");
      if (!service) bad("a case needs a service");
      if (!purpose) bad("a case needs a purpose");
      const when = c.at === undefined ? fileAt : timeOf(c.at);
      if (c.at !== undefined && when === undefined) bad(timeProblem("at", c.at));
      const consent = (str("consent") ?? "none") as ConsentCase;
      if (!CONSENT_CASES.includes(consent)) bad(`consent must be one of ${CONSENT_CASES.join(", ")}`);
      const e = c.expect as Record<string, unknown> | undefined;
      if (typeof e !== "object" || e === null) {
        bad("a case needs expect: {decision: allow|deny, …}");
        continue;
      }
      for (const k of Object.keys(e))
        if (!EXPECT_KEYS.has(k)) bad(`unknown key ${JSON.stringify(k)} in expect`);
      if (e.decision !== "allow" && e.decision !== "deny") bad("expect.decision must be allow or deny");
      const expect = {
        decision: e.decision as "allow" | "deny",
        ...(typeof e.reason === "string" ? { reason: e.reason } : {}),
        ...(e.grants !== undefined ? { grants: list(e.grants, "expect.grants") ?? [] } : {}),
        ...(e.released !== undefined ? { released: list(e.released, "expect.released") ?? [] } : {}),
        ...(e.withheld !== undefined ? { withheld: list(e.withheld, "expect.withheld") ?? [] } : {}),
      };
      const fields = list(c.fields, "fields") ?? [];
      const consentFields = list(c.consent_fields, "consent_fields") ?? [];
      if (problems.length > before || !consumer || !caseName || !service || !purpose || when === undefined)
        continue;
      cases.push({
        name: caseName,
        source: where,
        consumer,
        service,
        purpose,
        fields,
        subjectId: str("subject") ?? fileSubject,
        at: when,
        consent,
        consentFields,
        legalOrderRef: str("legal_order_ref") ?? "",
        expect,
      });
    }
  }
  if (problems.length > 0) throw new PolicyTestFileError(problems);
  return cases;
}

/** The consent a case simulates, as the broker's consent store would hand it to `decide`. */
function consentFor(c: PolicyTestCase): ConsentRecord | undefined {
  if (c.consent === "none") return undefined;
  const valid: ConsentRecord = {
    id: "policy-test-consent",
    subjectId: c.subjectId,
    consumer: c.consumer.uri,
    services: [c.service],
    purpose: c.purpose,
    fields: c.consentFields,
    notAfter: c.at + 86_400_000,
    revokedAt: 0,
  };
  switch (c.consent) {
    case "valid":
      return valid;
    case "revoked":
      return { ...valid, revokedAt: c.at - 1 };
    case "expired":
      return { ...valid, notAfter: c.at - 1 };
    case "wrong-purpose":
      return { ...valid, purpose: `not-${c.purpose}` };
    case "wrong-consumer":
      return { ...valid, consumer: `${c.consumer.uri}-other` };
    case "wrong-subject":
      return { ...valid, subjectId: c.subjectId === "00000000000" ? "00000000001" : "00000000000" };
  }
}

/** Runs the cases against a bundle; a case whose request the broker would refuse as invalid fails too. */
export function runPolicyTests(
  bundle: PolicyBundle,
  catalogue: Catalogue,
  cases: readonly PolicyTestCase[],
): PolicyTestResult[] {
  return cases.map((c) => {
    const entry = catalogue.get(c.service);
    const invalid = !entry
      ? `service ${c.service} is not in the catalogue`
      : !bundle.purposes.has(c.purpose)
        ? `purpose ${c.purpose} is not in the bundle's purposes`
        : c.fields.find((f) => !entry.fieldPaths.has(f));
    if (invalid !== undefined) {
      const text = invalid.includes(" ") ? invalid : `${invalid} is not a field of ${c.service}`;
      return { case: c, decision: undefined, diff: [`request: ${text}`] };
    }
    const d = decide(bundle, {
      consumer: c.consumer,
      service: c.service,
      purpose: c.purpose,
      fields: c.fields,
      subjectId: c.subjectId,
      now: c.at,
      consentId: c.consent === "none" ? "" : "policy-test-consent",
      consent: consentFor(c),
      legalOrderRef: c.legalOrderRef ?? "",
    });
    const diff: string[] = [];
    const got = d.allow ? "allow" : "deny";
    if (got !== c.expect.decision)
      diff.push(`decision: expected ${c.expect.decision} got ${got} (${d.explanation})`);
    if (c.expect.reason !== undefined && c.expect.reason !== (d.denyReason ?? ""))
      diff.push(`reason: expected ${c.expect.reason} got ${d.denyReason ?? "none"}`);
    const sameSet = (label: string, want: readonly string[] | undefined, have: readonly string[]) => {
      if (want === undefined) return;
      const a = [...want].sort();
      const b = [...have].sort();
      if (a.length !== b.length || a.some((x, i) => x !== b[i]))
        diff.push(`${label}: expected [${a.join(", ")}] got [${b.join(", ")}]`);
    };
    sameSet("grants", c.expect.grants, d.matchedGrants);
    sameSet("released", c.expect.released, d.released);
    sameSet("withheld", c.expect.withheld, d.withheld);
    return { case: c, decision: d, diff };
  });
}
