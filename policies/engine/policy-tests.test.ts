import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Catalogue } from "../../core/contract/index.js";
import { parseBundle } from "./bundle.js";
import { loadPolicyTests, PolicyTestFileError, parsePolicyTests, runPolicyTests } from "./policy-tests.js";
import { whoCan } from "./who-can.js";

const catalogue = Catalogue.load();
const dir = new URL("..", import.meta.url).pathname;
const shipped = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((name) => ({ name, text: readFileSync(join(dir, name), "utf8") }));
const bundleOf = (files: typeof shipped) => parseBundle(files, { catalogue, trustDomain: "gov.bt" });
const cases = loadPolicyTests(join(dir, "tests"), { utcOffsetMinutes: bundleOf(shipped).utcOffsetMinutes });
const BT = { utcOffsetMinutes: 6 * 60 };

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
      parsePolicyTests(
        [
          {
            name: "t.yaml",
            text: "cases:\n  - name: x\n    consumer: spiffe://gov.bt/agency/moe/system/s\n    service: dcrc.citizen-record\n    purpose: p\n    expect: {decision: maybe}\n    colour: red\n",
          },
        ],
        BT,
      ),
    ).toThrow(PolicyTestFileError);
    try {
      parsePolicyTests(
        [{ name: "t.yaml", text: "cases:\n  - name: x\n    expect: {decision: allow}\n" }],
        BT,
      );
    } catch (err) {
      expect((err as PolicyTestFileError).problems[0]).toMatch(/^t\.yaml:2: consumer: /);
    }
  });
});

describe("a policy test's at", () => {
  const ADMISSIONS = [
    "    consumer: spiffe://gov.bt/agency/moe/system/school-admissions",
    "    service: dcrc.citizen-record",
    "    purpose: school-admission",
  ].join("\n");
  /** A test file: `head` lines, then one admissions case per [name, at line, decision]. */
  const file = (head: string, ...cs: [string, string, string][]) => ({
    name: "t.yaml",
    text: `${head}cases:\n${cs.map(([name, at, decision]) => `  - name: ${name}\n${ADMISSIONS}\n${at}    expect: {decision: ${decision}}\n`).join("")}`,
  });
  /**
   * Date.parse reads a time without a zone in the machine's zone (process.env.TZ): running under one far
   * from the bundle's shows that the tests do not.
   */
  const inNewYork = <T>(run: () => T): T => {
    const tz = process.env.TZ;
    process.env.TZ = "America/New_York";
    try {
      return run();
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  };
  const refusal = (f: { name: string; text: string }) => {
    try {
      parsePolicyTests([f], BT);
    } catch (err) {
      if (err instanceof PolicyTestFileError) return err.problems;
    }
    throw new Error("the file was not refused");
  };

  it("reads a time without a zone in the bundle's utc_offset, never the machine's time zone", () => {
    const f = file(
      "at: 2027-03-10T10:00:00\n",
      ["file default", "", "allow"],
      ["at night", "    at: 2027-03-10T22:30:00\n", "deny"],
      ["a date alone", "    at: 2027-03-11\n", "deny"],
      ["with its zone", "    at: 2027-03-10T22:30:00Z\n", "deny"],
    );
    inNewYork(() => {
      expect(parsePolicyTests([f], BT).map((c) => new Date(c.at).toISOString())).toEqual([
        "2027-03-10T04:00:00.000Z",
        "2027-03-10T16:30:00.000Z",
        "2027-03-10T18:00:00.000Z",
        "2027-03-10T22:30:00.000Z",
      ]);
      expect(
        parsePolicyTests([f], { utcOffsetMinutes: -5 * 60 }).map((c) => new Date(c.at).toISOString()),
      ).toEqual([
        "2027-03-10T15:00:00.000Z",
        "2027-03-11T03:30:00.000Z",
        "2027-03-11T05:00:00.000Z",
        "2027-03-10T22:30:00.000Z",
      ]);
    });
  });

  it("gives the shipped bundle's decisions in its local time: office hours are Thimphu's", () => {
    const zoneless = inNewYork(() =>
      parsePolicyTests(
        [
          file(
            "",
            ["late in office hours", "    at: 2027-03-10T17:30:00\n", "allow"],
            ["before office hours", "    at: 2027-03-10T07:30\n", "deny"],
          ),
        ],
        { utcOffsetMinutes: bundleOf(shipped).utcOffsetMinutes },
      ),
    );
    expect(runPolicyTests(bundleOf(shipped), catalogue, zoneless).map((r) => r.diff)).toEqual([[], []]);
  });

  it.each([
    ["    at: 2027-02-30T10:00:00+06:00\n", '"2027-02-30T10:00:00+06:00"'],
    ["    at: Mar 10 2027\n", '"Mar 10 2027"'],
    ["    at: 2027-03-10 10:00:00\n", '"2027-03-10 10:00:00"'],
    ["    at: 1804723200000\n", "1804723200000"],
    ["    at:\n", "null"],
  ])("refuses a case's %j naming file, line and the value", (line, shown) => {
    expect(refusal(file("", ["x", line, "allow"]))).toEqual([
      `t.yaml:2: at must be an ISO 8601 date or time, e.g. 2027-03-10T10:00:00+06:00 (without a zone it is the bundle's local time, utc_offset), not ${shown}`,
    ]);
  });

  it("refuses a bad file-level at once, at its line, and leaves out the cases that would use it", () => {
    expect(
      refusal(
        file("# header\nat: tomorrow\n", ["x", "", "allow"], ["y", "    at: 2027-03-10T10:00\n", "allow"]),
      ),
    ).toEqual([
      't.yaml:2: at must be an ISO 8601 date or time, e.g. 2027-03-10T10:00:00+06:00 (without a zone it is the bundle\'s local time, utc_offset), not "tomorrow"',
    ]);
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
