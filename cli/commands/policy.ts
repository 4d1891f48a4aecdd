import { statSync } from "node:fs";
import { resolve } from "node:path";
import { Command } from "commander";
import { DEFAULT_SUBJECT_ID_PATTERN } from "../../broker/index.js";
import { Catalogue, parseWorkloadId } from "../../core/contract/index.js";
import {
  BundleError,
  bundleWarnings,
  CONSENT_CASES,
  type ConsentCase,
  loadBundle,
  loadPolicyTests,
  type PolicyBundle,
  PolicyTestFileError,
  parseLocalTime,
  runPolicyTests,
  timeProblem,
  whoCan,
} from "../../policies/index.js";
import {
  act,
  choiceOption,
  type Io,
  type Run,
  requiredOption,
  UsageError,
  type XbusCommand,
} from "./command.js";

const TRUST_DOMAIN = "gov.bt";

interface BundleFlags {
  dir: string;
  trustDomain: string;
}

/** --dir and --trust-domain: every subcommand reads the bundle. */
function bundleOptions(cmd: Command): Command {
  return cmd
    .option("--dir <dir>", "the bundle's folder", "policies")
    .option("--trust-domain <td>", "the federation's trust domain", TRUST_DOMAIN);
}

/** Why `path` cannot be the folder a flag names, or undefined when it is one. */
function notAFolder(path: string): string | undefined {
  try {
    return statSync(path).isDirectory() ? undefined : "not a folder";
  } catch {
    return "no such folder";
  }
}

/** The bundle of --dir, checked against the catalogue; its problems go to stderr, one a line, and undefined. */
function load(o: BundleFlags, io: Io): { dir: string; bundle?: PolicyBundle } {
  const dir = resolve(o.dir);
  const why = notAFolder(dir);
  if (why)
    throw new UsageError(`--dir ${dir}: ${why} (the policy bundle; default policies/ of the current folder)`);
  try {
    return { dir, bundle: loadBundle({ dir, catalogue: Catalogue.load(), trustDomain: o.trustDomain }) };
  } catch (err) {
    if (!(err instanceof BundleError)) throw err;
    io.err(`bundle ${dir} refused:\n${err.problems.map((p) => `  ${p}`).join("\n")}\n`);
    return { dir };
  }
}

function check(run: Run): Command {
  const cmd = bundleOptions(
    new Command("check").summary("read the bundle and check it against the proto catalogue"),
  );
  return act<BundleFlags>(run, cmd, (o) => {
    const { bundle } = load(o, run.io);
    if (!bundle) return 1;
    // Warnings do not fail the check: the bundle is valid, and the broker would load it.
    for (const w of bundleWarnings(bundle)) run.io.err(`warning: ${w}\n`);
    run.io.out(
      `ok: ${bundle.purposes.size} purposes, ${bundle.grants.length} grants, ` +
        `${bundle.consentAuthorities.size} consent authorities\nbundle hash ${bundle.hash}\n`,
    );
    return 0;
  });
}

function test(run: Run): Command {
  const cmd = bundleOptions(
    new Command("test")
      .summary("run the policy tests; a diff and exit 1 on any mismatch")
      .option("--tests <dir>", "the tests' folder (default DIR/tests)"),
  );
  return act<BundleFlags & { tests?: string }>(run, cmd, (o) => {
    const { dir, bundle } = load(o, run.io);
    if (!bundle) return 1;
    const out = run.io.out;
    const testsDir = resolve(o.tests ?? `${dir}/tests`);
    const why = notAFolder(testsDir);
    if (why) throw new UsageError(`--tests ${testsDir}: ${why}`);
    let cases: ReturnType<typeof loadPolicyTests>;
    try {
      cases = loadPolicyTests(testsDir, { utcOffsetMinutes: bundle.utcOffsetMinutes });
    } catch (err) {
      if (!(err instanceof PolicyTestFileError)) throw err;
      run.io.err(`${err.message}\n`);
      return 1;
    }
    const results = runPolicyTests(bundle, Catalogue.load(), cases);
    let failed = 0;
    for (const r of results) {
      if (r.diff.length === 0) {
        out(`ok    ${r.case.name}\n`);
        continue;
      }
      failed++;
      out(`FAIL  ${r.case.name}  (${r.case.source})\n`);
      for (const line of r.diff) out(`        ${line}\n`);
    }
    out(`\n${results.length - failed} passed, ${failed} failed; bundle ${bundle.hash.slice(0, 12)}\n`);
    return failed === 0 ? 0 : 1;
  });
}

interface ExplainFlags extends BundleFlags {
  consumer: string;
  service: string;
  purpose: string;
  fields?: string;
  consent: ConsentCase;
  at?: string;
  subject: string;
}

function explain(run: Run): Command {
  const cmd = bundleOptions(
    new Command("explain")
      .summary("one request → the decision and why, grant by grant")
      .addOption(requiredOption("--consumer <spiffe-id>", "the consumer system"))
      .addOption(requiredOption("--service <service>", "the service asked"))
      .addOption(requiredOption("--purpose <purpose>", "the purpose given"))
      .option("--fields <list>", "the fields asked, comma-separated (default: everything the grant allows)")
      .addOption(
        choiceOption("--consent <case>", "the consent the request names", CONSENT_CASES).default("none"),
      )
      .option("--at <time>", "when, ISO 8601; without a zone, the bundle's utc_offset (default now)")
      .option("--subject <citizen-id>", "the citizen ID a condition's `subject` sees", "10000000001"),
  );
  return act<ExplainFlags>(run, cmd, (o) => {
    const { bundle } = load(o, run.io);
    if (!bundle) return 1;
    const out = run.io.out;
    let consumerId: ReturnType<typeof parseWorkloadId>;
    try {
      consumerId = parseWorkloadId(o.consumer);
    } catch (err) {
      throw new UsageError(`--consumer: ${(err as Error).message}`);
    }
    // As the broker would refuse it (INVALID_SUBJECT_ID) before asking policy.
    if (!DEFAULT_SUBJECT_ID_PATTERN.test(o.subject))
      throw new UsageError(
        `--subject must be a citizen ID (${DEFAULT_SUBJECT_ID_PATTERN.source}), not ${JSON.stringify(o.subject)}`,
      );
    const at = o.at ?? new Date().toISOString();
    const when = parseLocalTime(at, bundle.utcOffsetMinutes);
    if (when === undefined) throw new UsageError(timeProblem("--at", at));
    const [result] = runPolicyTests(bundle, Catalogue.load(), [
      {
        name: "explain",
        source: "command line",
        consumer: consumerId,
        service: o.service,
        purpose: o.purpose,
        fields: o.fields ? o.fields.split(",").map((f) => f.trim()) : [],
        subjectId: o.subject,
        at: when,
        consent: o.consent,
        consentFields: [],
        expect: { decision: "allow" },
      },
    ]);
    const d = result?.decision;
    if (!d) {
      out(`invalid request: ${result?.diff.join("; ")}\n`);
      return 1;
    }
    out(`decision  ${d.allow ? "ALLOW" : `DENY (${d.denyReason})`}\n`);
    out(`why       ${d.explanation}\n`);
    out(`released  ${d.released.join(", ") || "-"}\nwithheld  ${d.withheld.join(", ") || "-"}\n`);
    const instant = new Date(when).toISOString();
    out(
      `at        ${at}${at === instant ? "" : ` (${instant})`}; bundle ${bundle.hash.slice(0, 12)}\n\ngrants of ${o.service}:\n`,
    );
    const traced = new Map(d.trace.map((t) => [t.grant, t]));
    const grants = bundle.grantsByService.get(o.service) ?? [];
    for (const g of grants) {
      const t = traced.get(g.id);
      const line = t
        ? `${t.result === "matched" ? "MATCH" : "no   "} ${g.id} (${g.source}): ${t.detail}`
        : `-     ${g.id} (${g.source}): for ${g.consumer ?? `agency ${g.consumerAgency}`}, not this consumer`;
      out(`  ${line}\n`);
    }
    if (grants.length === 0) out("  (none: default deny)\n");
    return 0;
  });
}

function whoCanCommand(run: Run): Command {
  const cmd = bundleOptions(
    new Command("who-can")
      .summary("which consumers can read a service or field, for which purposes and on which terms")
      .argument("<target>", "SERVICE or SERVICE.FIELD"),
  );
  return act<BundleFlags>(run, cmd, (o, [target = ""]) => {
    const { bundle } = load(o, run.io);
    if (!bundle) return 1;
    const out = run.io.out;
    let rows: ReturnType<typeof whoCan>;
    try {
      rows = whoCan(bundle, Catalogue.load(), target);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (rows.length === 0) {
      out(`nobody can read ${target} (default deny)\n`);
      return 0;
    }
    for (const r of rows) {
      out(`${r.consumer}\n  purposes  ${r.purposes.join(", ")}\n  fields    ${r.fields.join(", ")}\n`);
      if (r.terms.length > 0) out(`  terms     ${r.terms.join("; ")}\n`);
      out(`  grant     ${r.grant} (${r.source})\n`);
    }
    return 0;
  });
}

export const policyCommand: XbusCommand = {
  name: "policy",
  create: (run) =>
    new Command("policy")
      .summary("check, test and explain the policy bundle; who-can reports who may read a service or field")
      .addCommand(check(run))
      .addCommand(test(run))
      .addCommand(explain(run))
      .addCommand(whoCanCommand(run)),
};
