import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const tmp = mkdtempSync(join(tmpdir(), "xbus-policy-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function xbus(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, "bin/xbus.js"), "policy", ...args], {
    cwd: root,
    encoding: "utf8",
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("xbus policy", () => {
  it("test passes on the shipped bundle", () => {
    const r = xbus("test");
    expect(r.err).toBe("");
    expect(r.out).toMatch(/\n\d+ passed, 0 failed; bundle [0-9a-f]{12}\n$/);
    expect(r.code).toBe(0);
  });

  it("test exits non-zero and prints the diff when the bundle changes its meaning", () => {
    const dir = join(tmp, "mutated");
    cpSync(join(root, "policies"), dir, { recursive: true });
    const rsta = join(dir, "rsta.yaml");
    writeFileSync(rsta, readFileSync(rsta, "utf8").replace("    consent: required\n", ""));
    const r = xbus("test", "--dir", dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain("FAIL  medical fitness needs the applicant's consent  (licensing.yaml:");
    expect(r.out).toContain("reason: expected CONSENT_REQUIRED got none");
  });

  it("check refuses a broken bundle with file, line and reason", () => {
    const dir = join(tmp, "broken");
    cpSync(join(root, "policies"), dir, { recursive: true });
    writeFileSync(
      join(dir, "extra.yaml"),
      "grants:\n  - id: x\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [scholarship-eligibility]\n    fields: [name]\n    rate: lots\n",
    );
    const r = xbus("check", "--dir", dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain('extra.yaml:7: grant x: rate "lots" is not N/second');
  });

  it("explains a decision grant by grant", () => {
    const r = xbus(
      "explain",
      "--consumer",
      "spiffe://gov.bt/agency/moe/system/school-admissions",
      "--service",
      "moh.vaccination-record",
      "--purpose",
      "school-admission",
      "--consent",
      "valid",
      "--at",
      "2027-03-10T22:00:00+06:00",
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain("DENY (CONDITION_NOT_MET)");
    expect(r.out).toMatch(/no {4}moe-admissions-vaccination-record \(moe\.yaml:\d+\): condition is false/);
  });

  it("explain reads an --at without a zone in the bundle's utc_offset, and refuses one that is no time", () => {
    const request = [
      "explain",
      "--consumer",
      "spiffe://gov.bt/agency/moe/system/school-admissions",
      "--service",
      "dcrc.citizen-record",
      "--purpose",
      "school-admission",
    ];
    const evening = xbus(...request, "--at", "2027-03-10T17:30:00");
    expect(evening.code, evening.err).toBe(0);
    expect(evening.out).toContain("decision  ALLOW");
    expect(evening.out).toContain("at        2027-03-10T17:30:00 (2027-03-10T11:30:00.000Z)");
    const bad = xbus(...request, "--at", "10 March 2027");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--at must be an ISO 8601 date or time, e.g. 2027-03-10T10:00:00+06:00");
    expect(bad.err).toContain('not "10 March 2027"');
  });

  it("refuses a --consumer, --subject, --dir or --tests it cannot use, naming the flag", () => {
    const request = ["--service", "dcrc.citizen-record", "--purpose", "scholarship-eligibility"];
    const scholarships = "spiffe://gov.bt/agency/moe/system/scholarships";
    for (const [args, why] of [
      [["explain", "--consumer", "moe", ...request], /^xbus policy: --consumer: malformed SPIFFE ID "moe"/],
      [
        ["explain", "--consumer", scholarships, ...request, "--subject", "12"],
        /^xbus policy: --subject must be a citizen ID/,
      ],
      [["check", "--dir", join(tmp, "nowhere")], /^xbus policy: --dir .*nowhere: no such folder/],
      [["test", "--tests", join(tmp, "nowhere")], /^xbus policy: --tests .*nowhere: no such folder/],
    ] as const) {
      const r = xbus(...args);
      expect(r.err, args.join(" ")).toMatch(why);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.out).toBe("");
    }
  });

  it("who-can answers for a field", () => {
    const r = xbus("who-can", "dcrc.citizen-record.photo_ref");
    expect(r.code).toBe(0);
    expect(r.out).toContain("spiffe://gov.bt/agency/rsta/system/licensing");
    expect(r.out).not.toContain("scholarships");
  });
});
