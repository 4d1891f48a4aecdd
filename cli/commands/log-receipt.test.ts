import { describe, expect, it } from "vitest";
import { extraMismatch } from "./log/receipt.js";

// A tlog-proof's `extra` (the exchange id) is not covered by the proof; a v2 receipt's signature covers its
// exchange id, so `xbus log proof` and `xbus log receipt --offline --proof` hold the one to the other.
describe("a tlog-proof's extra against the receipt's exchange", () => {
  const id = "019a0000-0000-7000-8000-000000000001";

  it("passes when they agree, or when either names none (a v1 receipt, a proof without extra)", () => {
    expect(extraMismatch(Buffer.from(id), id)).toBeUndefined();
    expect(extraMismatch(Buffer.from(id), "")).toBeUndefined();
    expect(extraMismatch(undefined, id)).toBeUndefined();
  });

  it("fails naming both when the proof names another exchange", () => {
    expect(extraMismatch(Buffer.from("019a0000-0000-7000-8000-000000000002"), id)).toBe(
      `the proof's extra names exchange "019a0000-0000-7000-8000-000000000002", the receipt ${id}`,
    );
  });
});
