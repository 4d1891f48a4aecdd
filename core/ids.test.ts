import { describe, expect, it } from "vitest";
import { UUID_PATTERN, uuidv7 } from "./ids.js";

describe("uuidv7", () => {
  it("is an RFC 9562 version 7 UUID whose first 48 bits are the time given", () => {
    const now = Date.UTC(2026, 10, 27, 3, 0, 0, 123);
    const id = uuidv7(now);
    expect(id).toMatch(UUID_PATTERN);
    const hex = id.replaceAll("-", "");
    expect(Number.parseInt(hex.slice(0, 12), 16)).toBe(now);
    expect(hex[12]).toBe("7");
    expect(["8", "9", "a", "b"]).toContain(hex[16]);
  });

  it("never repeats across many refills of its random pool, and sorts by time", () => {
    // 4096-byte pool, 10 bytes an id: 5,000 ids cross a dozen refills.
    const ids = Array.from({ length: 5000 }, (_, i) => uuidv7(1_800_000_000_000 + i));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The random tails differ even at the same millisecond.
    const same = new Set(Array.from({ length: 1000 }, () => uuidv7(1_800_000_000_000).slice(14)));
    expect(same.size).toBe(1000);
  });
});
