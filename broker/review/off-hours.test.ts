import { describe, expect, it } from "vitest";
import { resolveAlertOptions, type Weekday } from "./alert-options.js";
import { outsideOfficeHours } from "./off-hours.js";

const office = (o: { timeZone?: string; start?: string; end?: string; days?: Weekday[] }) => {
  const hours = resolveAlertOptions({ offHours: o }).offHours;
  if (!hours) throw new Error("off-hours rule is off");
  return outsideOfficeHours(hours);
};

describe("outside office hours", () => {
  it("is before start or from end on, on a working day, in UTC by default", () => {
    const outside = office({});
    expect(outside(Date.parse("2025-07-09T06:59:59Z"))).toBe(true); // a Wednesday
    expect(outside(Date.parse("2025-07-09T07:00:00Z"))).toBe(false);
    expect(outside(Date.parse("2025-07-09T18:59:59Z"))).toBe(false);
    expect(outside(Date.parse("2025-07-09T19:00:00Z"))).toBe(true);
  });

  it("is the whole of a day not in `days`", () => {
    const outside = office({});
    expect(outside(Date.parse("2025-07-12T12:00:00Z"))).toBe(true); // a Saturday
    expect(office({ days: ["Sat"] })(Date.parse("2025-07-12T12:00:00Z"))).toBe(false);
  });

  it("reads the clock and the weekday in the office's time zone", () => {
    // Thimphu is UTC+06:00: 01:30 UTC on a Wednesday is 07:30 there, and 23:30 UTC on a Friday is Saturday.
    const thimphu = office({ timeZone: "Asia/Thimphu" });
    expect(thimphu(Date.parse("2025-07-09T01:30:00Z"))).toBe(false);
    expect(thimphu(Date.parse("2025-07-09T00:30:00Z"))).toBe(true);
    expect(thimphu(Date.parse("2025-07-11T23:30:00Z"))).toBe(true);
  });

  it("follows daylight saving time where the zone has it", () => {
    const berlin = office({ timeZone: "Europe/Berlin" });
    // 06:30 UTC is 08:30 in July (UTC+2) but 07:30 in January (UTC+1): both inside 07:00–19:00.
    expect(berlin(Date.parse("2025-07-09T06:30:00Z"))).toBe(false);
    expect(berlin(Date.parse("2025-01-08T06:30:00Z"))).toBe(false);
    // 05:30 UTC is 07:30 in July, but 06:30 in January.
    expect(berlin(Date.parse("2025-07-09T05:30:00Z"))).toBe(false);
    expect(berlin(Date.parse("2025-01-08T05:30:00Z"))).toBe(true);
  });

  it("runs office hours to midnight with end 24:00", () => {
    const late = office({ end: "24:00" });
    expect(late(Date.parse("2025-07-09T23:59:59Z"))).toBe(false);
    expect(late(Date.parse("2025-07-10T00:00:00Z"))).toBe(true);
  });
});
