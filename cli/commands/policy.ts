import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_SUBJECT_ID_PATTERN } from "../../broker/index.js";
import { Catalogue, parseWorkloadId } from "../../core/contract/index.js";
import {
  BundleError,
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
import type { Command } from "./command.js";

const TRUST_DOMAIN = "gov.bt";
const HELP = `xbus policy <check|test|explain|who-can> [options]

  check                       read and validate the bundle against the proto catalogue
  test [--tests DIR]          run the policy tests (default DIR/tests); exit 1 on any mismatch
  explain --consumer SPIFFE_ID --service S --purpose P [--fields a,b] [--consent none|valid|revoked|…]
          [--at ISO_TIME] [--subject ID]   (--at without a zone: the bundle's utc_offset)
                              one request → the decision and why, grant by grant
  who-can SERVICE[.FIELD]     which consumers can read it, for which purposes, on which terms

  --dir DIR                   the bundle folder (default policies/)
  --trust-domain TD           default gov.bt`;

function load(dir: string, trustDomain: string, out: NodeJS.WritableStream): PolicyBundle | undefined {
  try {
    return loadBundle({ dir, catalogue: Catalogue.load(), trustDomain });
  } catch (err) {
    if (!(err instanceof BundleError)) throw err;
    out.write(`bundle ${dir} refused:\n${err.problems.map((p) => `  ${p}`).join("\n")}\n`);
    return undefined;
  }
}

export const policyCommand: Command = {
  name: "policy",
  summary: "check, test and explain the policy bundle; who-can reports who may read a service or field",
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        dir: { type: "string" },
        tests: { type: "string" },
        "trust-domain": { type: "string" },
        consumer: { type: "string" },
        service: { type: "string" },
        purpose: { type: "string" },
        fields: { type: "string" },
        consent: { type: "string" },
        at: { type: "string" },
        subject: { type: "string" },
        help: { type: "boolean" },
      },
    });
    const [sub, target] = positionals;
    if (values.help || sub === undefined) {
      process.stdout.write(`${HELP}\n`);
      return values.help ? 0 : 2;
    }
    const out = process.stdout;
    const dir = resolve(values.dir ?? "policies");
    const trustDomain = values["trust-domain"] ?? TRUST_DOMAIN;
    if (!isFolder(dir)) {
      process.stderr.write(
        `--dir ${dir}: no such folder (the policy bundle; default policies/ of the current folder)\n`,
      );
      return 2;
    }
    const bundle = load(dir, trustDomain, process.stderr);
    if (!bundle) return 1;
    const catalogue = Catalogue.load();

    switch (sub) {
      case "check": {
        out.write(
          `ok: ${bundle.purposes.size} purposes, ${bundle.grants.length} grants, ` +
            `${bundle.consentAuthorities.size} consent authorities\nbundle hash ${bundle.hash}\n`,
        );
        return 0;
      }
      case "test": {
        const testsDir = resolve(values.tests ?? `${dir}/tests`);
        if (!isFolder(testsDir)) {
          process.stderr.write(`--tests ${testsDir}: no such folder\n`);
          return 2;
        }
        let cases: ReturnType<typeof loadPolicyTests>;
        try {
          cases = loadPolicyTests(testsDir, {
            utcOffsetMinutes: bundle.utcOffsetMinutes,
          });
        } catch (err) {
          if (!(err instanceof PolicyTestFileError)) throw err;
          process.stderr.write(`${err.message}\n`);
          return 1;
        }
        const results = runPolicyTests(bundle, catalogue, cases);
        let failed = 0;
        for (const r of results) {
          if (r.diff.length === 0) {
            out.write(`ok    ${r.case.name}\n`);
            continue;
          }
          failed++;
          out.write(`FAIL  ${r.case.name}  (${r.case.source})\n`);
          for (const line of r.diff) out.write(`        ${line}\n`);
        }
        out.write(
          `\n${results.length - failed} passed, ${failed} failed; bundle ${bundle.hash.slice(0, 12)}\n`,
        );
        return failed === 0 ? 0 : 1;
      }
      case "explain": {
        const { consumer, service, purpose } = values;
        if (!consumer || !service || !purpose) {
          process.stderr.write("explain needs --consumer, --service and --purpose\n");
          return 2;
        }
        const consent = (values.consent ?? "none") as ConsentCase;
        if (!CONSENT_CASES.includes(consent)) {
          process.stderr.write(`--consent must be one of ${CONSENT_CASES.join(", ")}\n`);
          return 2;
        }
        let consumerId: ReturnType<typeof parseWorkloadId>;
        try {
          consumerId = parseWorkloadId(consumer);
        } catch (err) {
          process.stderr.write(`--consumer: ${(err as Error).message}\n`);
          return 2;
        }
        // As the broker would refuse it (INVALID_SUBJECT_ID) before asking policy.
        if (values.subject !== undefined && !DEFAULT_SUBJECT_ID_PATTERN.test(values.subject)) {
          process.stderr.write(
            `--subject must be a citizen ID (${DEFAULT_SUBJECT_ID_PATTERN.source}), not ${JSON.stringify(values.subject)}\n`,
          );
          return 2;
        }
        const at = values.at ?? new Date().toISOString();
        const when = parseLocalTime(at, bundle.utcOffsetMinutes);
        if (when === undefined) {
          process.stderr.write(`${timeProblem("--at", at)}\n`);
          return 2;
        }
        const [result] = runPolicyTests(bundle, catalogue, [
          {
            name: "explain",
            source: "command line",
            consumer: consumerId,
            service,
            purpose,
            fields: values.fields ? values.fields.split(",").map((f) => f.trim()) : [],
            subjectId: values.subject ?? "10000000001",
            at: when,
            consent,
            consentFields: [],
            expect: { decision: "allow" },
          },
        ]);
        const d = result?.decision;
        if (!d) {
          out.write(`invalid request: ${result?.diff.join("; ")}\n`);
          return 1;
        }
        out.write(`decision  ${d.allow ? "ALLOW" : `DENY (${d.denyReason})`}\n`);
        out.write(`why       ${d.explanation}\n`);
        out.write(`released  ${d.released.join(", ") || "-"}\nwithheld  ${d.withheld.join(", ") || "-"}\n`);
        const instant = new Date(when).toISOString();
        out.write(
          `at        ${at}${at === instant ? "" : ` (${instant})`}; bundle ${bundle.hash.slice(0, 12)}\n\ngrants of ${service}:\n`,
        );
        const traced = new Map(d.trace.map((t) => [t.grant, t]));
        for (const g of bundle.grantsByService.get(service) ?? []) {
          const t = traced.get(g.id);
          const line = t
            ? `${t.result === "matched" ? "MATCH" : "no   "} ${g.id} (${g.source}): ${t.detail}`
            : `-     ${g.id} (${g.source}): for ${g.consumer ?? `agency ${g.consumerAgency}`}, not this consumer`;
          out.write(`  ${line}\n`);
        }
        if ((bundle.grantsByService.get(service) ?? []).length === 0) out.write("  (none: default deny)\n");
        return 0;
      }
      case "who-can": {
        if (!target) {
          process.stderr.write("who-can needs SERVICE or SERVICE.FIELD\n");
          return 2;
        }
        let rows: ReturnType<typeof whoCan>;
        try {
          rows = whoCan(bundle, catalogue, target);
        } catch (err) {
          process.stderr.write(`${(err as Error).message}\n`);
          return 2;
        }
        if (rows.length === 0) {
          out.write(`nobody can read ${target} (default deny)\n`);
          return 0;
        }
        for (const r of rows) {
          out.write(
            `${r.consumer}\n  purposes  ${r.purposes.join(", ")}\n  fields    ${r.fields.join(", ")}\n`,
          );
          if (r.terms.length > 0) out.write(`  terms     ${r.terms.join("; ")}\n`);
          out.write(`  grant     ${r.grant} (${r.source})\n`);
        }
        return 0;
      }
      default:
        process.stderr.write(`xbus policy: unknown subcommand ${JSON.stringify(sub)}\n\n${HELP}\n`);
        return 2;
    }
  },
};

function isFolder(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}
