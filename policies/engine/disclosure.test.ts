import { describe, expect, it } from "vitest";
import { Catalogue, parseWorkloadId } from "../../core/contract/index.js";
import { BundleError, parseBundle } from "./bundle.js";
import { decide, type PolicyRequest } from "./decide.js";
import { disclosureTime, parseDisclosure } from "./disclosure.js";

const THIMPHU = 6 * 60;

describe("disclose_after", () => {
  it("reads durations on the calendar and dates in local time", () => {
    const at = Date.UTC(2027, 0, 31, 10);
    expect(disclosureTime(parseDisclosure("P90D"), at, THIMPHU)).toBe(at + 90 * 86_400_000);
    expect(disclosureTime(parseDisclosure("P2W"), at, THIMPHU)).toBe(at + 14 * 86_400_000);
    expect(disclosureTime(parseDisclosure("P1Y"), at, THIMPHU)).toBe(Date.UTC(2028, 0, 31, 10));
    // 31 January + 1 month rolls over as Date.UTC does: 3 March (2027 is not a leap year).
    expect(disclosureTime(parseDisclosure("P1M"), at, THIMPHU)).toBe(Date.UTC(2027, 2, 3, 10));
    expect(disclosureTime(parseDisclosure("PT12H30M"), at, THIMPHU)).toBe(at + 12.5 * 3_600_000);
    // Midnight in Thimphu is 18:00 UTC the day before.
    expect(disclosureTime(parseDisclosure("2027-06-30"), at, THIMPHU)).toBe(Date.UTC(2027, 5, 29, 18));
  });

  it("refuses what is not a duration or a date, zero, and delays past thirty years", () => {
    for (const bad of ["90 days", "P", "PT", "P1H", "2027-02-30", "-P1D", "P1.5D"])
      expect(() => parseDisclosure(bad), bad).toThrow(/ISO 8601 duration .* or a date YYYY-MM-DD/);
    expect(() => parseDisclosure("P0D")).toThrow("longer than zero");
    expect(() => parseDisclosure("P31Y")).toThrow("at most 30 years: the state may delay, never erase");
  });
});

const opts = { catalogue: Catalogue.load(), trustDomain: "gov.bt" };
const RBP = "spiffe://gov.bt/agency/rbp/system/investigations";
const file = (extra = "") => ({
  name: "b.yaml",
  text: `purposes:
  - id: investigation
    legal_basis: a court's order
grants:
  - id: covert
    consumer: ${RBP}
    service: dcrc.citizen-record
    purposes: [investigation]
    fields: [name, address]
    disclose_after: P180D
${extra}`,
});
const NOW = Date.UTC(2027, 0, 10, 4);
const req: PolicyRequest = {
  consumer: parseWorkloadId(RBP),
  service: "dcrc.citizen-record",
  purpose: "investigation",
  fields: [],
  subjectId: "10000000001",
  now: NOW,
  consentId: "",
  consent: undefined,
};

describe("a covert grant", () => {
  it("denies a request that names no legal order, with its own reason", () => {
    const d = decide(parseBundle([file()], opts), req);
    expect(d.allow).toBe(false);
    expect(d.denyReason).toBe("LEGAL_ORDER_REQUIRED");
    expect(d.explanation).toContain("legal_order_ref");
    expect(d.discloseAt).toBeUndefined();
  });

  it("allows one that names its order, disclosed to the citizen after the delay", () => {
    const d = decide(parseBundle([file()], opts), { ...req, legalOrderRef: "CR/2027/1" });
    expect(d.allow).toBe(true);
    expect(d.matchedGrants).toEqual(["covert"]);
    expect(d.discloseAt).toBe(NOW + 180 * 86_400_000);
  });

  it("is shown at once when an open grant allows the same read", () => {
    const open = `  - id: open
    consumer: ${RBP}
    service: dcrc.citizen-record
    purposes: [investigation]
    fields: [name]
`;
    const d = decide(parseBundle([file(open)], opts), { ...req, legalOrderRef: "CR/2027/1" });
    expect(d.matchedGrants).toEqual(["covert", "open"]);
    expect(d.discloseAt).toBeUndefined();
    // Without the order only the open grant matches, and only its fields are released.
    const plain = decide(parseBundle([file(open)], opts), req);
    expect(plain.released).toEqual(["name"]);
  });

  it("is refused at the line of a disclose_after that does not parse", () => {
    const bad = file().text.replace("P180D", "six months");
    expect(() => parseBundle([{ name: "b.yaml", text: bad }], opts)).toThrow(BundleError);
    try {
      parseBundle([{ name: "b.yaml", text: bad }], opts);
    } catch (err) {
      expect((err as BundleError).problems).toEqual([
        'b.yaml:10: grant covert: disclose_after must be an ISO 8601 duration (P90D, P6M, P1Y, PT12H) or a date YYYY-MM-DD, not "six months"',
      ]);
    }
  });
});
