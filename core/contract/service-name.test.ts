import { describe, expect, it } from "vitest";
import { XbusError } from "../errors.js";
import { agencySubjects, serviceSubject } from "../nats/index.js";
import { parseServiceName } from "./service-name.js";

describe("parseServiceName", () => {
  it("parses <agency>.<name> and builds its subject", () => {
    const s = parseServiceName("dcrc.citizen-record");
    expect(s).toEqual({ agency: "dcrc", name: "citizen-record", full: "dcrc.citizen-record" });
    expect(serviceSubject(s)).toBe("xbus.svc.dcrc.citizen-record");
  });

  it.each([
    "dcrc.*",
    "dcrc.>",
    "*.citizen-record",
    ">",
    "a..b",
    "dcrc.citizen-record.extra",
    "dcrc",
    "",
    "DCRC.citizen-record",
    "dcrc.citizen record",
    "dcrc.citizen-record\n",
    "dcrc.citizen\u0000record",
    "dcrc.-lead",
    "dcrc.trail-",
    "1dcrc.x",
    `dcrc.${"a".repeat(200)}`,
  ])("refuses %j with INVALID_SERVICE naming the field", (value) => {
    let err: unknown;
    try {
      parseServiceName(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(XbusError);
    expect((err as XbusError).reason).toBe("INVALID_SERVICE");
    expect((err as XbusError).field).toBe("service");
  });

  it("will not build an agency wildcard from a bad agency name", () => {
    expect(agencySubjects("dcrc")).toBe("xbus.svc.dcrc.*");
    expect(() => agencySubjects("dcrc.>")).toThrow(/invalid agency/);
  });
});
