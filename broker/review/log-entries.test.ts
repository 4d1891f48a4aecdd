import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../../test/helpers/log-index.js";

const TOKEN = "entries-test-token-0123456789ab";
/** One more than the largest page. */
const COUNT = 1001;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
afterAll(() => log.close());
const app = log.reviewApp({ token: TOKEN, logSecret: randomBytes(32) });

async function entries(query: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(`/v1/log/entries?${query}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("GET /v1/log/entries", () => {
  it("answers 100 by default, and 1 to 1000 when asked", async () => {
    for (const [query, n] of [
      ["start=0", 100],
      ["start=0&limit=1", 1],
      ["start=0&limit=1000", 1000],
      ["start=1000&limit=1000", 1],
    ] as const) {
      const { status, body } = await entries(query);
      expect(status, query).toBe(200);
      expect((body.entries as unknown[]).length, query).toBe(n);
    }
  });

  it.each(["limit=0", "limit=1001", "limit=100000", "limit=-1", "limit=ten"])(
    "refuses %s with a 400 naming limit, as the other lists do, rather than a short page",
    async (query) => {
      const { status, body } = await entries(`start=0&${query}`);
      expect(status).toBe(400);
      expect(body.error).toMatchObject({ message: expect.stringMatching(/^limit must be /) });
    },
  );

  it(`answers an empty page at start = the log's size (${COUNT}), where a follower waits for more`, async () => {
    expect(await entries(`start=${COUNT}`)).toEqual({ status: 200, body: { entries: [] } });
  });

  it.each([
    ["start=-1", "start must be a non-negative integer"],
    ["start=1.5", "start must be a non-negative integer"],
    ["start=", "start must be 1 to 256 characters"],
    [`start=${COUNT + 1}`, `start must be at most the log's size, ${COUNT}, got ${COUNT + 1}`],
    ["start=0&start=5", "start must be given once"],
    ["start=0&limit=1&limit=2", "limit must be given once"],
    ["start=0&count=5", 'unknown query parameter "count" (start, limit)'],
    ["begin=0", 'unknown query parameter "begin"'],
  ])("refuses %s with a 400: %s", async (query, reason) => {
    const { status, body } = await entries(query);
    expect(status).toBe(400);
    expect((body.error as { message: string }).message).toContain(reason);
  });
});

describe("the reviewer token", () => {
  it("says why a token was refused: none, malformed, or not a reviewer's", async () => {
    const refusal = async (headers: Record<string, string>) => {
      const res = await app.request("/v1/log/tree-head", { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
      return ((await res.json()) as { error: { message: string } }).error.message;
    };
    expect(await refusal({})).toMatch(/^a reviewer bearer token is required/);
    expect(await refusal({ authorization: "Bearer short" })).toMatch(/16 to 256 characters/);
    expect(await refusal({ authorization: TOKEN })).toMatch(/must be Bearer TOKEN/);
    expect(await refusal({ authorization: `Bearer ${"x".repeat(32)}` })).toBe(
      "this bearer token is not a reviewer's",
    );
  });
});
