import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Catalogue } from "../../core/catalogue.js";
import { parseBundle } from "./bundle.js";
import { loadPolicyTests, PolicyTestFileError, parsePolicyTests, runPolicyTests } from "./policy-tests.js";
import { whoCan } from "./who-can.js";

const catalogue = Catalogue.load();
const dir = new URL("..", import.meta.url).pathname;
const shipped = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((name) => ({ name, text: readFileSync(join(dir, name), "utf8") }));
const cases = loadPolicyTests(join(dir, "tests"));
const bundleOf = (files: typeof shipped) => parseBundle(files, { catalogue, trustDomain: "gov.bt" });

/** The shipped bundle with one file's text changed; the change must really apply. */
function mutate(file: string, from: string, to: string) {
  return bundleOf(
    shipped.map((f) => {
      if (f.name !== file) return f;
      if (!f.text.includes(from)) throw new Error(`mutation does not apply: ${from}`);
      return { ...f, text: f.text.replace(from, to) };
    }),
  );
}
const failures = (bundle: ReturnType<typeof bundleOf>) =>
  runPolicyTests(bundle, catalogue, cases)
    .filter((r) => r.diff.length > 0)
    .map((r) => ({ name: r.case.name, diff: r.diff }));

describe("the shipped policy tests", () => {
  it("pass on the shipped bundle", () => {
    expect(cases.length).toBeGreaterThan(20);
    expect(failures(bundleOf(shipped))).toEqual([]);
  });

  it("catch a grant that stops requiring consent for medical fitness", () => {
    const f = failures(mutate("rsta.yaml", "    consent: required\n", ""));
    expect(f).toContainEqual({
      name: "medical fitness needs the applicant's consent",
      diff: [
        expect.stringMatching(/^decision: expected deny got allow/),
        "reason: expected CONSENT_REQUIRED got none",
      ],
    });
  });

  it("catch a field ceiling that widens to the household members' citizen IDs", () => {
    const f = failures(mutate("moe.yaml", "      - household.members.name\n", "      - household.members\n"));
    expect(f.map((x) => x.name)).toContain(
      "household members' citizen IDs and the photo stay with the registry",
    );
  });

  it("catch a condition that no longer keeps admissions to office hours", () => {
    const f = failures(
      mutate(
        "moe.yaml",
        "    condition: hour >= 8 && hour < 18 && weekday != 0\n",
        "    condition: weekday != 0\n",
      ),
    );
    expect(f.map((x) => x.name)).toContain("admissions at night are refused");
  });

  it("catch an agency-wide grant where one system was meant", () => {
    const f = failures(
      mutate(
        "moe.yaml",
        "  - id: moe-scholarships-exam-results\n    description: The scholarship system ranks applicants by their national examination results.\n    consumer: spiffe://gov.bt/agency/moe/system/scholarships\n",
        "  - id: moe-scholarships-exam-results\n    consumer_agency: moe\n",
      ),
    );
    expect(f.map((x) => x.name)).toEqual(["another moe system does not inherit the scholarship grant"]);
  });
});

describe("policy test files", () => {
  it("are refused with file and line when a case is malformed", () => {
    expect(() =>
      parsePolicyTests([
        {
          name: "t.yaml",
          text: "cases:\n  - name: x\n    consumer: spiffe://gov.bt/agency/moe/system/s\n    service: dcrc.citizen-record\n    purpose: p\n    expect: {decision: maybe}\n    colour: red\n",
        },
      ]),
    ).toThrow(PolicyTestFileError);
    try {
      parsePolicyTests([{ name: "t.yaml", text: "cases:\n  - name: x\n    expect: {decision: allow}\n" }]);
    } catch (err) {
      expect((err as PolicyTestFileError).problems[0]).toMatch(/^t\.yaml:2: consumer: /);
    }
  });
});

describe("who-can", () => {
  const bundle = bundleOf(shipped);
  it("names the consumers of a field, their purposes and terms", () => {
    expect(whoCan(bundle, catalogue, "moh.medical-fitness.fit_to_drive")).toEqual([
      expect.objectContaining({
        grant: "rsta-licensing-medical-fitness",
        consumer: "spiffe://gov.bt/agency/rsta/system/licensing",
        purposes: ["licence-renewal"],
        fields: ["fit_to_drive"],
        terms: ["consent required", "rate 300/minute"],
      }),
    ]);
  });
  it("answers nobody for a field no grant reaches", () => {
    expect(whoCan(bundle, catalogue, "moh.medical-fitness.facility")).toEqual([]);
  });
  it("refuses what the catalogue does not have", () => {
    expect(() => whoCan(bundle, catalogue, "dcrc.citizen-record.shoe_size")).toThrow(/not a field/);
  });
});
