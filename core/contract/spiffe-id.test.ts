import { describe, expect, it } from "vitest";
import { XbusError } from "../errors.js";
import { formatWorkloadId, parseWorkloadId, spiffeIdsFromSubjectAltName } from "./spiffe-id.js";

describe("parseWorkloadId", () => {
  it.each([
    ["spiffe://gov.bt/agency/moe/system/scholarships", "system", "moe", "scholarships"],
    ["spiffe://gov.bt/agency/dcrc/connector/c-1", "connector", "dcrc", "c-1"],
    ["spiffe://gov.bt/agency/moh/adapter/ehr2", "adapter", "moh", "ehr2"],
    ["spiffe://gov.bt/xbus/broker/b1", "broker", "", "b1"],
    ["spiffe://gov.bt/xbus/admin/ops", "admin", "", "ops"],
    ["spiffe://gov.bt/xbus/route/core", "route", "", "core"],
    ["spiffe://gov.bt/agency/dcrc/leaf/leaf1", "leaf", "dcrc", "leaf1"],
  ])("accepts %s", (uri, role, agency, name) => {
    expect(parseWorkloadId(uri)).toEqual({ uri, trustDomain: "gov.bt", role, agency, name });
  });

  it.each([
    ["http://gov.bt/agency/moe/system/x", "scheme"],
    ["spiffe://gov.bt", "no path"],
    ["spiffe://Gov.BT/agency/moe/system/x", "trust domain"],
    ["spiffe://gov.bt/agency/moe/system", "path must be"],
    ["spiffe://gov.bt/agency/moe/janitor/x", "path must be"],
    ["spiffe://gov.bt/xbus/janitor/x", "path must be"],
    ["spiffe://gov.bt/agency/moe/admin/x", "path must be"],
    ["spiffe://gov.bt/agency/MOE/system/x", "segment"],
    ["spiffe://gov.bt/agency/moe/system/x/extra", "path must be"],
    ["spiffe://gov.bt/agency/moe/system/x%2Fy", "segment"],
    ["spiffe://gov.bt/agency/moe/system/../x", "segment"],
    ["spiffe://gov.bt/agency//system/x", "segment"],
    ["spiffe://gov.bt/agency/mo.e/system/x", "segment"],
    ["spiffe://gov.bt/agency/moe/system/x?q=1", "segment"],
  ])("refuses %s (%s)", (uri, why) => {
    const err = (() => {
      try {
        parseWorkloadId(uri);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(XbusError);
    expect((err as XbusError).reason).toBe("BAD_SPIFFE_ID");
    expect((err as XbusError).message).toContain(why);
  });

  it("formats only valid ids", () => {
    expect(formatWorkloadId("gov.bt", { role: "system", agency: "moe", name: "x" })).toBe(
      "spiffe://gov.bt/agency/moe/system/x",
    );
    expect(() => formatWorkloadId("gov.bt", { role: "system", agency: "m*", name: "x" })).toThrow(/segment/);
  });
});

describe("spiffeIdsFromSubjectAltName", () => {
  it("picks the spiffe URIs out of Node's SAN string", () => {
    expect(
      spiffeIdsFromSubjectAltName("DNS:localhost, URI:spiffe://gov.bt/xbus/broker/a, IP Address:127.0.0.1"),
    ).toEqual(["spiffe://gov.bt/xbus/broker/a"]);
    expect(spiffeIdsFromSubjectAltName("URI:https://example.org/x")).toEqual([]);
    expect(spiffeIdsFromSubjectAltName(undefined)).toEqual([]);
  });
});
