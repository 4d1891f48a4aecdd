import { describe, expect, it } from "vitest";
import { Catalogue, parseWorkloadId } from "../../core/contract/index.js";
import { parseBundle } from "./bundle.js";
import type { ConsentRecord } from "./consent.js";
import { decide, type PolicyRequest } from "./decide.js";
import { bundleWarnings } from "./warnings.js";

// The CEL variable `released`: the leaf fields a grant would let leave the bus, whatever the consumer asked for.
const catalogue = Catalogue.load();
const opts = { catalogue, trustDomain: "gov.bt" };
const RBP = "spiffe://gov.bt/agency/rbp/system/cases";
const PURPOSES = "purposes:\n  - id: care\n    legal_basis: act\n";

function grantText(id: string, fields: string, condition: string, extra = ""): string {
  return `  - id: ${id}\n    consumer: ${RBP}\n    service: dcrc.citizen-record\n    purposes: [care]\n    fields: ${fields}\n    condition: '${condition}'\n${extra}`;
}
const bundleOf = (...grants: string[]) =>
  parseBundle([{ name: "b.yaml", text: `${PURPOSES}grants:\n${grants.join("")}` }], opts);

const request = (fields: string[], over: Partial<PolicyRequest> = {}): PolicyRequest => ({
  consumer: parseWorkloadId(RBP),
  service: "dcrc.citizen-record",
  purpose: "care",
  fields,
  subjectId: "10000000001",
  now: Date.UTC(2026, 5, 3, 4),
  consentId: "",
  consent: undefined,
  ...over,
});

describe("released in a condition", () => {
  // A grant that must never release the village, however the consumer asks.
  const noVillage = bundleOf(grantText("no-village", "[name, address]", '!("address.village" in released)'));

  it.each([
    ["the leaf itself", ["address.village"]],
    ["its parent (expanded to its leaves)", ["address"]],
    ["nothing (the whole ceiling)", []],
  ])("denies a request for %s", (_what, fields) => {
    const d = decide(noVillage, request(fields));
    expect(d.allow).toBe(false);
    expect(d.denyReason).toBe("CONDITION_NOT_MET");
    expect(d.released).toEqual([]);
  });

  it("allows a request whose released fields avoid the leaf", () => {
    const d = decide(noVillage, request(["name", "address.gewog"]));
    expect(d.allow).toBe(true);
    expect(d.released).toEqual(["name", "address.gewog"]);
  });

  it("lists what this grant releases: the requested paths cut to its ceiling, as leaves", () => {
    // Exactly the three leaves of address (household lies outside the ceiling and is withheld).
    const b = bundleOf(
      grantText(
        "exact",
        "[address]",
        'released == ["address.village", "address.gewog", "address.dzongkhag"]',
      ),
    );
    expect(decide(b, request(["address", "household"])).allow).toBe(true);
    expect(decide(b, request([])).allow).toBe(true);
    expect(decide(b, request(["address.gewog"])).denyReason).toBe("CONDITION_NOT_MET");
  });

  it("expands a path above the ceiling only to the ceiling's leaves", () => {
    const b = bundleOf(
      grantText("members", "[household.members.name]", 'released == ["household.members.name"]'),
    );
    const d = decide(b, request(["household"]));
    expect(d.allow).toBe(true);
    expect(d.released).toEqual(["household.members.name"]);
    expect(d.withheld).toEqual(["household"]);
  });

  it("narrows to the consent's fields before the condition sees them", () => {
    const b = bundleOf(
      grantText("consented", "[address]", 'released == ["address.gewog"]', "    consent: required\n"),
    );
    const consent: ConsentRecord = {
      id: "c1",
      subjectId: "10000000001",
      consumer: RBP,
      services: ["dcrc.citizen-record"],
      purpose: "care",
      fields: ["address.gewog"],
      notAfter: Date.UTC(2027, 0, 1),
      revokedAt: 0,
    };
    const d = decide(b, request([], { consentId: "c1", consent }));
    expect(d.trace).toEqual([expect.objectContaining({ grant: "consented", result: "matched" })]);
    expect(d.released).toEqual(["address.gewog"]);
  });

  it("gives a grant's condition that grant's release, not the other grants'", () => {
    // Each condition judges what its own grant would release: `narrow` holds, `guarded` does not.
    const b = bundleOf(
      grantText("narrow", "[name]", '!("address.village" in released)'),
      grantText("guarded", "[address]", '!("address.village" in released)'),
    );
    const d = decide(b, request(["name", "address"]));
    expect(d.matchedGrants).toEqual(["narrow"]);
    expect(d.released).toEqual(["name"]);
    expect(d.withheld).toEqual(["address"]);
  });
});

describe("xbus policy check warns on a condition over the requested fields", () => {
  const onFields = grantText("on-fields", "[name, address]", '!("address.village" in fields)');
  const onReleased = grantText("on-released", "[name]", '!("address.village" in released)');

  it("names the grant, where it is, and says to use released", () => {
    const w = bundleWarnings(bundleOf(onFields, onReleased));
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^b\.yaml:\d+: grant on-fields: the condition reads `fields`/);
    expect(w[0]).toContain("the consumer controls that list");
    expect(w[0]).toContain("use `released`, the leaf fields that leave the bus");
  });

  it("is the bypass it warns of: the same rule on fields passes a request for the parent path", () => {
    const b = bundleOf(onFields);
    expect(decide(b, request(["address.village"])).allow).toBe(false);
    expect(decide(b, request(["address"])).released).toEqual(["address"]);
  });
});
