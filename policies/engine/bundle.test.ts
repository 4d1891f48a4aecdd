import { describe, expect, it } from "vitest";
import { Catalogue, parseWorkloadId } from "../../core/contract/index.js";
import { BundleError, loadBundle, parseBundle } from "./bundle.js";
import { decide, grantsFor } from "./decide.js";

const catalogue = Catalogue.load();
const opts = { catalogue, trustDomain: "gov.bt" };
const purposes = {
  name: "purposes.yaml",
  text: "purposes:\n  - id: p1\n    legal_basis: act 1\n  - id: p2\n    legal_basis: act 2\n",
};
const grant = (body: string) => ({ name: "grants.yaml", text: `grants:\n${body}` });
const moe = parseWorkloadId("spiffe://gov.bt/agency/moe/system/scholarships");
const moeOther = parseWorkloadId("spiffe://gov.bt/agency/moe/system/other");
const rsta = parseWorkloadId("spiffe://gov.bt/agency/rsta/system/licensing");

function problemsOf(files: { name: string; text: string }[]): string[] {
  try {
    parseBundle(files, opts);
  } catch (e) {
    if (e instanceof BundleError) return [...e.problems];
    throw e;
  }
  return [];
}

describe("parseBundle refuses a bundle whole, naming file, line and reason", () => {
  it.each([
    [
      "unknown key",
      "  - id: g1\n    consumer: spiffe://gov.bt/agency/moe/system/scholarships\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n    feilds: [gender]\n",
      'grants.yaml:7: unknown key "feilds" in a grant',
    ],
    [
      "unknown service",
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.nope\n    purposes: [p1]\n    fields: [name]\n",
      'grants.yaml:2: grant g1: unknown service "dcrc.nope"',
    ],
    [
      "unknown purpose",
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p9]\n    fields: [name]\n",
      'grants.yaml:2: grant g1: unknown purpose "p9"',
    ],
    [
      "unknown field",
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name, address.street]\n",
      'grants.yaml:2: grant g1: "address.street" is not a field of agencies.dcrc.v1.CitizenRecord',
    ],
    [
      "foreign trust domain",
      "  - id: g1\n    consumer: spiffe://other.org/agency/moe/system/x\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n",
      "grants.yaml:2: grant g1: consumer spiffe://other.org/agency/moe/system/x is outside trust domain gov.bt",
    ],
    [
      "both consumer forms",
      "  - id: g1\n    consumer: spiffe://gov.bt/agency/moe/system/x\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n",
      "grants.yaml:2: grant g1: give exactly one of consumer (a SPIFFE ID) or consumer_agency",
    ],
    [
      "consent that is neither required nor not-required",
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n    consent: maybe\n",
      'grants.yaml:2: grant g1: consent must be required or not-required, not "maybe"',
    ],
    [
      "CEL that does not parse",
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n    condition: hour <\n",
      "grants.yaml:7: grant g1: condition does not parse: <input>:1:6: found < but expecting end of input",
    ],
    [
      "CEL over an unknown variable",
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n    condition: citizen.age > 18\n",
      "grants.yaml:7: grant g1: condition uses unknown variable citizen (known: service, purpose, fields, released, consumer, consumer_agency, consumer_system, subject, consent, now, hour, weekday)",
    ],
    [
      "CEL that does not type",
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n    condition: 'hour < \"nine\"'\n",
      "grants.yaml:7: grant g1: condition does not check: found no matching overload for '_<_' applied to '(int, string)'",
    ],
    [
      "CEL that is not a bool",
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n    condition: hour + 1\n",
      "grants.yaml:7: grant g1: condition must give a bool",
    ],
    [
      "malformed rate",
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n    rate: 100 per minute\n",
      'grants.yaml:7: grant g1: rate "100 per minute" is not N/second, N/minute, N/hour or N/day (N from 1 to 9999999)',
    ],
    [
      "malformed expiry",
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n    expires: 2027-02-30\n",
      'grants.yaml:7: grant g1: expires must be a date YYYY-MM-DD, not "2027-02-30"',
    ],
  ])("%s", (_what, body, expected) => {
    expect(problemsOf([purposes, grant(body)])).toEqual([expected]);
  });

  it("refuses a consent authority that is not a system of the trust domain", () => {
    expect(
      problemsOf([
        purposes,
        {
          name: "authorities.yaml",
          text: "consent_authorities:\n  - spiffe://gov.bt/agency/govtech/connector/x\n",
        },
      ]),
    ).toEqual([
      'authorities.yaml:2: consent authority "spiffe://gov.bt/agency/govtech/connector/x" is not a system identity',
    ]);
  });

  it("names what is missing or of the wrong kind in a grant or purpose", () => {
    const g = (lines: string) => grant(`  - id: g1\n    consumer_agency: moe\n${lines}`);
    expect(problemsOf([{ name: "purposes.yaml", text: "purposes:\n  - id: p1\n" }])).toEqual([
      "purposes.yaml:2: purpose p1: legal_basis is required",
    ]);
    expect(problemsOf([purposes, g("    purposes: [p1]\n    fields: [name]\n")])).toEqual([
      "grants.yaml:2: grant g1: service is required (a service of the catalogue)",
    ]);
    expect(
      problemsOf([
        purposes,
        grant(
          "  - id: g1\n    consumer: 42\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n",
        ),
      ]),
    ).toEqual(["grants.yaml:2: grant g1: consumer must be a SPIFFE ID"]);
    expect(
      problemsOf([purposes, g("    service: dcrc.citizen-record\n    purposes: []\n    fields: name\n")]),
    ).toEqual([
      "grants.yaml:2: grant g1: purposes must be a non-empty list",
      "grants.yaml:2: grant g1: fields must be a non-empty list",
    ]);
  });

  it("refuses what is not a bundle file's shape, at the line of the key or entry", () => {
    expect(
      problemsOf([
        purposes,
        { name: "a.yaml", text: "grant:\n  - id: g1\ngrants: 5\n" },
        { name: "b.yaml", text: "grants:\n  - g1\nutc_offset: 6\n" },
        { name: "c.yaml", text: "just text\n" },
      ]),
    ).toEqual([
      'a.yaml:1: unknown key "grant" (expected purposes, grants, consent_authorities or utc_offset)',
      "a.yaml:3: grants must be a list",
      "b.yaml:2: each entry of grants must be a mapping",
      "b.yaml:3: utc_offset must look like +06:00",
      "c.yaml:1: the file must be a mapping with keys purposes and/or grants",
    ]);
  });

  it("checks what only the whole bundle can say: purposes defined once, one utc_offset", () => {
    expect(
      problemsOf([
        purposes,
        { name: "more.yaml", text: "utc_offset: '+05:30'\npurposes:\n  - id: p1\n    legal_basis: again\n" },
        { name: "zone.yaml", text: "\nutc_offset: '+06:00'\n" },
      ]),
    ).toEqual([
      "more.yaml:3: purpose p1 is defined twice",
      "zone.yaml:2: utc_offset differs from the one at more.yaml:1",
    ]);
  });

  it("lists every problem of a bundle in one pass, file by file, top to bottom", () => {
    const body = [
      "  - id: g2",
      "    consumer_agency: moe",
      "    service: dcrc.nope",
      "    purposes: [p9]",
      "    fields: [name]",
      "  - id: g3",
      "    consumer_agency: moe",
      "    service: dcrc.citizen-record",
      "    purposes: [p1]",
      "    fields: [name]",
      "    condition: hour <",
      "    rate: lots",
      "",
    ].join("\n");
    expect(problemsOf([purposes, grant(body)])).toEqual([
      'grants.yaml:2: grant g2: unknown service "dcrc.nope"',
      'grants.yaml:2: grant g2: unknown purpose "p9"',
      "grants.yaml:12: grant g3: condition does not parse: <input>:1:6: found < but expecting end of input",
      'grants.yaml:13: grant g3: rate "lots" is not N/second, N/minute, N/hour or N/day (N from 1 to 9999999)',
    ]);
  });

  it("reports YAML syntax errors with their line", () => {
    const problems = problemsOf([purposes, { name: "bad.yaml", text: "grants:\n  - id: [unclosed\n" }]);
    expect(problems[0]).toMatch(/^bad\.yaml:\d+: /);
  });

  it("refuses duplicate grant ids across files", () => {
    const g =
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n";
    expect(problemsOf([purposes, grant(g), { name: "more.yaml", text: `grants:\n${g}` }])).toEqual([
      'more.yaml:2: grant id "g1" is used twice',
    ]);
  });

  it("loads the shipped bundle", () => {
    const b = loadBundle({ dir: new URL("..", import.meta.url).pathname, ...opts });
    expect(b.grants.length).toBeGreaterThan(0);
    expect(b.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("gives a different hash when any byte changes", () => {
    const g =
      "  - id: g1\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [p1]\n    fields: [name]\n";
    const a = parseBundle([purposes, grant(g)], opts).hash;
    const b = parseBundle([purposes, grant(`${g}\n`)], opts).hash;
    expect(a).not.toBe(b);
  });
});

describe("decide", () => {
  const bundle = parseBundle(
    [
      purposes,
      grant(
        [
          "  - id: exact",
          "    consumer: spiffe://gov.bt/agency/moe/system/scholarships",
          "    service: dcrc.citizen-record",
          "    purposes: [p1]",
          "    fields: [name, household.members.name]",
          "  - id: agency-wide",
          "    consumer_agency: moe",
          "    service: dcrc.citizen-record",
          "    purposes: [p1, p2]",
          "    fields: [date_of_birth]",
          "",
        ].join("\n"),
      ),
    ],
    opts,
  );
  const req = {
    consumer: moe,
    service: "dcrc.citizen-record",
    purpose: "p1",
    fields: [] as string[],
    subjectId: "10000000001",
    now: Date.UTC(2026, 5, 1, 4),
    consentId: "",
    consent: undefined,
  };

  it("releases the union of the matching grants' ceilings when no fields are named", () => {
    const d = decide(bundle, req);
    expect(d).toMatchObject({ allow: true, matchedGrants: ["exact", "agency-wide"], withheld: [] });
    expect([...d.released].sort()).toEqual(["date_of_birth", "household.members.name", "name"]);
    expect(d.bundleHash).toBe(bundle.hash);
  });

  it("withholds requested fields outside the ceiling and names them", () => {
    const d = decide(bundle, { ...req, fields: ["name", "gender", "household"] });
    expect(d.allow).toBe(true);
    expect(d.released).toEqual(["name", "household.members.name"]);
    expect(d.withheld).toEqual(["gender", "household"]);
  });

  it("matches agency-wide grants for other systems of the agency, and only those", () => {
    expect(decide(bundle, { ...req, consumer: moeOther }).released).toEqual(["date_of_birth"]);
    expect(decide(bundle, { ...req, consumer: rsta })).toMatchObject({
      allow: false,
      denyReason: "NO_GRANT",
    });
  });

  it("denies a purpose no grant lists", () => {
    expect(decide(bundle, { ...req, consumer: moeOther, purpose: "p9" })).toMatchObject({
      allow: false,
      denyReason: "PURPOSE_NOT_GRANTED",
    });
  });

  it("denies a request that would release nothing", () => {
    expect(decide(bundle, { ...req, fields: ["gender", "photo_ref"] })).toMatchObject({
      allow: false,
      denyReason: "NO_FIELDS_RELEASED",
      withheld: ["gender", "photo_ref"],
    });
  });

  it("summarises what a consumer may use", () => {
    expect(grantsFor(bundle, moe)).toEqual([
      {
        service: "dcrc.citizen-record",
        purposes: ["p1", "p2"],
        fields: ["date_of_birth", "household.members.name", "name"],
        consentRequired: false,
      },
    ]);
    expect(grantsFor(bundle, rsta)).toEqual([]);
  });
});
