import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../core/index.js";
import { resolveAlertOptions } from "./alert-options.js";
import { reviewErrorHandler } from "./http-errors.js";
import { reviewParams } from "./params.js";

// The parameter schemas on their own, behind a route that echoes what it was given: the routes' own
// tests (log-proofs, exchanges, accesses, alerts) cover each parameter's refusals through the real API.

let logSize = 10;
const p = reviewParams({
  logSize: () => logSize,
  subjectIdPattern: /^[0-9]{11}$/,
  alerts: resolveAlertOptions({ offHours: false }),
});
const app = new Hono()
  .onError(reviewErrorHandler(silentLogger))
  .get("/inclusion", p.inclusion, (c) => c.json(c.req.valid("query")))
  .get("/alerts", p.alerts, (c) => c.json(c.req.valid("query")))
  .get("/exchanges", p.exchanges, (c) => c.json(c.req.valid("query")));

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(path);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function refusal(path: string): Promise<string> {
  const { status, body } = await get(path);
  expect(status, path).toBe(400);
  return (body.error as { message: string }).message;
}

describe("the review API's parameters", () => {
  it("reach the route parsed: numbers as numbers, defaults filled in", async () => {
    expect((await get("/inclusion?index=2&tree_size=5")).body).toEqual({ index: 2, tree_size: 5 });
    expect((await get("/exchanges?consumer=c&cursor=7")).body).toEqual({
      consumer: "c",
      cursor: 7,
      limit: 50,
    });
    const { body } = await get("/alerts?to=2025-07-09");
    expect(body).toEqual({ from: Date.UTC(2025, 6, 8), to: Date.UTC(2025, 6, 9) });
  });

  it("answer the first unknown, repeated or empty parameter in the query's own order", async () => {
    expect(await refusal("/inclusion?bogus=1&index=")).toBe(
      'unknown query parameter "bogus" (index, tree_size)',
    );
    expect(await refusal("/inclusion?index=&bogus=1")).toBe("index must be 1 to 256 characters");
    expect(await refusal("/inclusion?tree_size=1&tree_size=2&index=")).toBe("tree_size must be given once");
    expect(await refusal(`/inclusion?index=${"1".repeat(257)}`)).toBe("index must be 1 to 256 characters");
  });

  it("check every parameter's presence before any value, then values in the route's order", async () => {
    expect(await refusal("/inclusion?index=x&bogus=1")).toContain('"bogus"');
    expect(await refusal("/inclusion?tree_size=x&index=y")).toBe("index must be a non-negative integer");
    expect(await refusal("/inclusion?tree_size=x")).toBe("index is required");
  });

  it("read the log's size at each request", async () => {
    expect(await refusal("/inclusion?index=0&tree_size=11")).toBe(
      "tree_size must be at most the log's size, 10, got 11",
    );
    logSize = 11;
    expect((await get("/inclusion?index=0&tree_size=11")).status).toBe(200);
    logSize = 10;
  });

  it("word every refusal themselves, never with a library's default message", async () => {
    for (const path of [
      "/inclusion",
      "/inclusion?index=1",
      "/inclusion?index=-1&tree_size=1",
      "/alerts?rule=nope",
      "/alerts?rule=off_hours",
      "/alerts?from=1&to=1",
      "/alerts?from=x",
      "/exchanges?decision=maybe",
      "/exchanges?subject=1",
      "/exchanges?limit=0",
      "/exchanges?limit=1.5",
      "/exchanges?cursor=-1",
    ]) {
      const message = await refusal(path);
      expect(message, path).toMatch(/^(index|tree_size|rule|from|decision|subject|limit|cursor)\b/);
      expect(message, path).not.toMatch(/Invalid input|expected/i);
    }
  });
});
