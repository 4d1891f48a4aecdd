/*
 * Per-decision time of the policy engine on the shipped bundle: `decide()` alone,
 * no I/O. Run alone: `npx tsx bench/micro/policy-decision.ts` prints, per case,
 * the median and p99 over batches of the mean time of one decision in the batch
 * (single calls are too short to time one by one). It also exports
 * `benchmarks` in the shape bench/micro/registry.ts (issue 7) picks up.
 */
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { Catalogue, parseWorkloadId } from "../../core/contract/index.js";
import { type ConsentRecord, decide, loadBundle, type PolicyRequest } from "../../policies/index.js";

const bundle = loadBundle({
  dir: resolve(import.meta.dirname, "../../policies"),
  catalogue: Catalogue.load(),
  trustDomain: "gov.bt",
});
const at = Date.parse("2027-03-10T10:00:00+06:00");
const subjectId = "10000000001";
const admissions = parseWorkloadId("spiffe://gov.bt/agency/moe/system/school-admissions");
const consent: ConsentRecord = {
  id: "c",
  subjectId,
  consumer: admissions.uri,
  services: ["moh.vaccination-record"],
  purpose: "school-admission",
  fields: [],
  notAfter: at + 86_400_000,
  revokedAt: 0,
};
const base = { subjectId, now: at, consentId: "", consent: undefined, fields: [] as string[] };

const cases: { name: string; req: PolicyRequest; allow: boolean }[] = [
  {
    name: "plain grant (scholarships → citizen record)",
    req: {
      ...base,
      consumer: parseWorkloadId("spiffe://gov.bt/agency/moe/system/scholarships"),
      service: "dcrc.citizen-record",
      purpose: "scholarship-eligibility",
    },
    allow: true,
  },
  {
    name: "CEL condition (admissions → citizen record, office hours)",
    req: { ...base, consumer: admissions, service: "dcrc.citizen-record", purpose: "school-admission" },
    allow: true,
  },
  {
    name: "consent + CEL condition (admissions → vaccination record)",
    req: {
      ...base,
      consumer: admissions,
      service: "moh.vaccination-record",
      purpose: "school-admission",
      fields: ["vaccinations.vaccine", "vaccinations.date"],
      consentId: "c",
      consent,
    },
    allow: true,
  },
  {
    name: "deny, no grant",
    req: {
      ...base,
      consumer: parseWorkloadId("spiffe://gov.bt/agency/moe/system/payroll"),
      service: "moe.exam-results",
      purpose: "scholarship-eligibility",
    },
    allow: false,
  },
];

const BATCH = 1000;
let sink = 0;

/** For the benchmark's registry: one run() = BATCH decisions. */
export const benchmarks = cases.map((c) => ({
  name: `policy decision: ${c.name}`,
  setup: () => ({
    run() {
      for (let i = 0; i < BATCH; i++) sink += decide(bundle, c.req).released.length;
      return BATCH;
    },
  }),
}));

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

function main() {
  const BATCHES = Number(process.env.BATCHES ?? 300);
  const results: { case: string; median_us: number; p99_us: number }[] = [];
  for (const c of cases) {
    if (decide(bundle, c.req).allow !== c.allow) throw new Error(`${c.name}: unexpected decision`);
    for (let i = 0; i < 20_000; i++) sink += decide(bundle, c.req).released.length;
    const means: number[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const t0 = performance.now();
      for (let i = 0; i < BATCH; i++) sink += decide(bundle, c.req).released.length;
      means.push(((performance.now() - t0) * 1000) / BATCH);
    }
    means.sort((x, y) => x - y);
    const q = (p: number) => means[Math.min(means.length - 1, Math.floor(p * means.length))] ?? Number.NaN;
    results.push({ case: c.name, median_us: +q(0.5).toFixed(2), p99_us: +q(0.99).toFixed(2) });
  }
  for (const r of results)
    process.stdout.write(`${r.case.padEnd(60)} median ${r.median_us} µs  p99 ${r.p99_us} µs\n`);
  if (sink < 0) process.stdout.write("\n");
}
