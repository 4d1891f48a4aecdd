import { describe, expect, it } from "vitest";
import { failureTimeline } from "./measure.js";
import type { LoadEvent, LoadRequest } from "./protocol.js";

const req = (service: string, expect: "allow" | "deny" = "allow") => ({ service, expect }) as LoadRequest;
const ev = (sentAt: number, outcome: string) => ({ sentAt, doneAt: sentAt + 10, outcome }) as LoadEvent;
const bad = (e: LoadEvent, r: LoadRequest) =>
  r.expect === "allow" ? e.outcome !== "OK" : e.outcome === "OK";

describe("failureTimeline", () => {
  it("groups the failures by the second they were sent after the origin, with reason and agency", () => {
    const events = [
      { e: ev(900, "4:-"), r: req("dcrc.person") }, // before the origin: left out
      { e: ev(1000, "4:-"), r: req("dcrc.person") },
      { e: ev(1500, "4:-"), r: req("dcrc.person") },
      { e: ev(1999, "14:LOG_UNAVAILABLE"), r: req("moe.school") },
      { e: ev(1200, "OK"), r: req("moe.school") }, // a success: not a failure
      { e: ev(1300, "7:POLICY_DENIED"), r: req("rsta.licence", "deny") }, // a denial as asked
      { e: ev(10_400, "14:LOG_UNAVAILABLE"), r: req("moh.record") },
    ];
    expect(failureTimeline(events, 1000, bad)).toBe(
      "+0 s: code 4 (dcrc) ×2, LOG_UNAVAILABLE (moe) ×1; +9 s: LOG_UNAVAILABLE (moh) ×1",
    );
  });

  it("is empty when nothing failed", () => {
    expect(failureTimeline([{ e: ev(1000, "OK"), r: req("moe.school") }], 0, bad)).toBe("");
  });
});
