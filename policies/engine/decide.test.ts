import { describe, expect, it } from "vitest";
import { Catalogue, parseWorkloadId } from "../../core/contract/index.js";
import { parseBundle } from "./bundle.js";
import type { ConsentRecord } from "./consent.js";
import { decide, grantsFor, type PolicyRequest } from "./decide.js";

const opts = { catalogue: Catalogue.load(), trustDomain: "gov.bt" };
const EHR = "spiffe://gov.bt/agency/moh/system/ehr";
const bundle = parseBundle(
  [
    {
      name: "b.yaml",
      text: `purposes:
  - id: care
    legal_basis: act
  - id: audit
    legal_basis: act
grants:
  - id: with-consent
    consumer: ${EHR}
    service: moh.vaccination-record
    purposes: [care]
    fields: [vaccinations]
    consent: required
  - id: office-hours
    consumer_agency: moh
    service: dcrc.citizen-record
    purposes: [care]
    fields: [name]
    condition: hour >= 9 && hour < 17 && weekday >= 1 && weekday <= 5
  - id: old
    consumer_agency: moh
    service: dcrc.citizen-record
    purposes: [audit]
    fields: [name]
    expires: 2026-06-30
    rate: 10/minute
`,
    },
  ],
  opts,
);
const SUBJECT = "10000000001";
// Wednesday 2026-06-03 10:00 in Thimphu (UTC+6) = 04:00 UTC.
const WED_10 = Date.UTC(2026, 5, 3, 4);
const base: PolicyRequest = {
  consumer: parseWorkloadId(EHR),
  service: "moh.vaccination-record",
  purpose: "care",
  fields: [],
  subjectId: SUBJECT,
  now: WED_10,
  consentId: "",
  consent: undefined,
};
const consent: ConsentRecord = {
  id: "c1",
  subjectId: SUBJECT,
  consumer: EHR,
  services: ["moh.vaccination-record"],
  purpose: "care",
  fields: [],
  notAfter: WED_10 + 1000,
  revokedAt: 0,
};

describe("consent", () => {
  it("is required when the grant says so", () => {
    expect(decide(bundle, base)).toMatchObject({ allow: false, denyReason: "CONSENT_REQUIRED" });
  });

  it("allows with a consent that covers subject, consumer, service and purpose", () => {
    expect(decide(bundle, { ...base, consentId: "c1", consent })).toMatchObject({
      allow: true,
      matchedGrants: ["with-consent"],
      released: ["vaccinations"],
    });
  });

  it.each([
    ["unknown", undefined],
    ["revoked", { ...consent, revokedAt: 1 }],
    ["expired", { ...consent, notAfter: WED_10 }],
    ["wrong subject", { ...consent, subjectId: "10000000002" }],
    ["wrong consumer", { ...consent, consumer: "spiffe://gov.bt/agency/moh/system/other" }],
    ["wrong service", { ...consent, services: ["dcrc.citizen-record"] }],
    ["wrong purpose", { ...consent, purpose: "audit" }],
  ])("is invalid when %s", (problem, c) => {
    const d = decide(bundle, { ...base, consentId: "c1", consent: c });
    expect(d).toMatchObject({ allow: false, denyReason: "CONSENT_INVALID" });
    expect(d.explanation).toContain(problem);
  });

  it("narrows the release to the fields the citizen agreed to", () => {
    const d = decide(bundle, {
      ...base,
      consentId: "c1",
      consent: { ...consent, fields: ["vaccinations.vaccine", "vaccinations.date"] },
    });
    expect(d.released).toEqual(["vaccinations.vaccine", "vaccinations.date"]);
  });

  it("shows in the consumer's summary", () => {
    expect(
      grantsFor(bundle, base.consumer).find((s) => s.service === "moh.vaccination-record"),
    ).toMatchObject({
      consentRequired: true,
    });
  });
});

describe("condition over the time", () => {
  const req = { ...base, service: "dcrc.citizen-record" };
  it("holds in office hours, local time", () => {
    expect(decide(bundle, req)).toMatchObject({ allow: true, matchedGrants: ["office-hours"] });
  });
  it.each([
    ["at 20:00", WED_10 + 10 * 3_600_000],
    ["on a Sunday", WED_10 + 4 * 86_400_000],
  ])("denies %s with the reason and the condition", (_when, now) => {
    const d = decide(bundle, { ...req, now });
    expect(d).toMatchObject({ allow: false, denyReason: "CONDITION_NOT_MET" });
    expect(d.trace).toContainEqual(expect.objectContaining({ grant: "office-hours", result: "condition" }));
  });
});

describe("expiry and rate", () => {
  const req = { ...base, service: "dcrc.citizen-record", purpose: "audit" };
  it("applies through the whole of its last day, local time", () => {
    const lastMinute = Date.UTC(2026, 5, 30, 17, 59); // 23:59 in Thimphu
    expect(decide(bundle, { ...req, now: lastMinute })).toMatchObject({
      allow: true,
      rates: [{ grant: "old", rate: { count: 10, perMs: 60_000 } }],
    });
    expect(decide(bundle, { ...req, now: lastMinute + 60_000 })).toMatchObject({
      allow: false,
      denyReason: "GRANT_EXPIRED",
    });
  });
});
