import { describe, expect, it } from "vitest";
import { parseLocalTime } from "./local-time.js";

const BT = 6 * 60;

describe("parseLocalTime", () => {
  it.each([
    ["2027-03-10T22:30:00+06:00", BT, "2027-03-10T16:30:00.000Z"],
    ["2027-03-10T22:30:00+06:00", -5 * 60, "2027-03-10T16:30:00.000Z"],
    ["2027-03-10T16:30:00Z", BT, "2027-03-10T16:30:00.000Z"],
    ["2027-03-10T11:30:00-05:00", BT, "2027-03-10T16:30:00.000Z"],
    ["2027-03-10T22:30:00.25+06:00", BT, "2027-03-10T16:30:00.250Z"],
    ["2027-03-10T22:30:00.123456789+06:00", BT, "2027-03-10T16:30:00.123Z"],
    ["2027-03-10T22:30+06:00", BT, "2027-03-10T16:30:00.000Z"],
  ])("reads %s, which names its zone, as that instant whatever the bundle's offset (%i)", (v, off, iso) => {
    expect(new Date(parseLocalTime(v, off) ?? Number.NaN).toISOString()).toBe(iso);
  });

  it.each([
    ["2027-03-10T22:30:00", BT, "2027-03-10T16:30:00.000Z"],
    ["2027-03-10T22:30", BT, "2027-03-10T16:30:00.000Z"],
    ["2027-03-10T22:30:00", -5 * 60, "2027-03-11T03:30:00.000Z"],
    ["2027-03-10T03:00:00", BT, "2027-03-09T21:00:00.000Z"],
    ["2027-03-10", BT, "2027-03-09T18:00:00.000Z"],
    ["2027-03-10", 0, "2027-03-10T00:00:00.000Z"],
  ])("reads %s, without a zone, in the bundle's local time (offset %i min)", (v, off, iso) => {
    expect(new Date(parseLocalTime(v, off) ?? Number.NaN).toISOString()).toBe(iso);
  });

  it.each([
    "2027-02-29",
    "2028-02-30T10:00:00Z",
    "2027-04-31",
    "0099-01-01",
    "2027-03-10T24:00:00",
    "2027-03-10T10:60",
    "2027-03-10 10:00:00",
    "2027-03-10T10:00:00+0600",
    "2027-03-10T10:00:00z",
    "2027-03-10T10:00:00+24:00",
    "2027-3-10",
    "Mar 10 2027",
    "1804723200000",
    "",
  ])("refuses %j, which is not an ISO 8601 date or time", (v) => {
    expect(parseLocalTime(v, BT)).toBeUndefined();
  });

  it("takes 29 February in a leap year", () => {
    expect(parseLocalTime("2028-02-29", 0)).toBe(Date.UTC(2028, 1, 29));
  });
});
