import { expect, it } from "vitest";
import { ExpiringStore } from "./sessions.js";

it("forgets an entry at its expiry, and a taken one at once", () => {
  let now = 1_000;
  const store = new ExpiringStore<string>(100, 10, () => now);
  const a = store.add("a");
  const b = store.add("b");
  expect(store.get(a)).toBe("a");
  expect(store.take(b)).toBe("b");
  expect(store.take(b)).toBeUndefined();
  now += 100;
  expect(store.get(a)).toBeUndefined();
  expect(store.get(undefined)).toBeUndefined();
});

it("drops the oldest entry when full, never grows past its bound", () => {
  const store = new ExpiringStore<number>(60_000, 2);
  const ids = [1, 2, 3].map((n) => store.add(n));
  expect(ids.map((id) => store.get(id))).toEqual([undefined, 2, 3]);
});

it("hands out ids that do not repeat and carry no value", () => {
  const store = new ExpiringStore<string>(60_000, 1000);
  const ids = new Set(Array.from({ length: 500 }, () => store.add("10000000001")));
  expect(ids.size).toBe(500);
  for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
});
