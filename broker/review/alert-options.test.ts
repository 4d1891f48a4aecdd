import { describe, expect, it } from "vitest";
import { type AlertOptions, alertRulesJson, resolveAlertOptions } from "./alert-options.js";

describe("the alert options", () => {
  it("fill in every default, office hours included", () => {
    expect(resolveAlertOptions()).toEqual({
      bulkLookup: { subjects: 100, windowMs: 3_600_000 },
      denials: { count: 10, windowMs: 600_000 },
      offHours: {
        timeZone: "UTC",
        start: "07:00",
        end: "19:00",
        days: ["Mon", "Tue", "Wed", "Thu", "Fri"],
        startMin: 420,
        endMin: 1140,
      },
      maxWindowMs: 31 * 86_400_000,
      maxScan: 200_000,
      maxExchangesPerAlert: 100,
    });
  });

  it("keep what is set and default the rest of the same rule", () => {
    const cfg = resolveAlertOptions({
      denials: { count: 3 },
      offHours: { timeZone: "Asia/Thimphu", end: "24:00", days: ["Sat"] },
    });
    expect(cfg.denials).toEqual({ count: 3, windowMs: 600_000 });
    expect(cfg.offHours).toMatchObject({
      timeZone: "Asia/Thimphu",
      start: "07:00",
      endMin: 1440,
      days: ["Sat"],
    });
  });

  it("turn a rule off with false, and the answer's rules then leave it out", () => {
    const cfg = resolveAlertOptions({ bulkLookup: false, offHours: false });
    expect(cfg.bulkLookup).toBeUndefined();
    expect(cfg.offHours).toBeUndefined();
    expect(alertRulesJson(cfg)).toEqual({ denials: { count: 10, window_ms: 600_000 } });
  });

  it.each<[AlertOptions, string]>([
    [
      { offHours: { timeZone: "Mars/Olympus" } },
      "alerts.offHours.timeZone is not an IANA time zone: Mars/Olympus",
    ],
    [
      { offHours: { start: "7am" } },
      'alerts.offHours.start must be a time of day as HH:MM (00:00 to 24:00), got "7am"',
    ],
    [
      { offHours: { end: "24:01" } },
      'alerts.offHours.end must be a time of day as HH:MM (00:00 to 24:00), got "24:01"',
    ],
    [
      { offHours: { start: "19:00", end: "07:00" } },
      "alerts.offHours.start must be before alerts.offHours.end (start 19:00, end 07:00)",
    ],
    [
      { offHours: { days: ["Mon", "Funday" as "Mon"] } },
      'alerts.offHours.days[1] must be one of Sun, Mon, Tue, Wed, Thu, Fri, Sat, got "Funday"',
    ],
    [
      { denials: "on" as unknown as false },
      'alerts.denials must be false or an object of settings, got "on"',
    ],
    [{ denials: { count: 0 } }, "alerts.denials.count must be a positive integer, got 0"],
    [{ bulkLookup: { windowMs: 1.5 } }, "alerts.bulkLookup.windowMs must be a positive integer, got 1.5"],
    [{ maxScan: Number.NaN }, "alerts.maxScan must be a positive integer, got null"],
    [{ maxWindowMs: 2 ** 53 }, "alerts.maxWindowMs must be a positive integer, got 9007199254740992"],
  ])("refuse %j, naming the option and the value", (options, message) => {
    expect(() => resolveAlertOptions(options)).toThrow(new RangeError(message));
  });
});
