import { createHash, randomBytes, randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/index.js";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../../test/helpers/log-index.js";
import { createReviewApp } from "./app.js";

const TOKEN = "errors-test-token-0123456789abcdef";
const CITIZEN = "10000000001";
const log = writeTestLogIndex([{ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" }]);
afterAll(() => log.close());

/** The review API over `index` (by default `log`), logging into `lines`. */
function appLoggingTo(lines: string[], index: Pick<typeof log, "reader" | "publicKey"> = log) {
  return createReviewApp({
    index: index.reader,
    logPublicKey: index.publicKey,
    tokenHashes: [createHash("sha256").update(TOKEN).digest("hex")],
    logSecret: randomBytes(32),
    subjectIdPattern: /^[0-9]{11}$/,
    logger: createLogger({ component: "review" }, "debug", (line) => lines.push(line)),
  });
}
const AUTH = { authorization: `Bearer ${TOKEN}` };

describe("the review API's errors", () => {
  it("answer a refusal as JSON naming what was wrong, and log nothing for it", async () => {
    const lines: string[] = [];
    const res = await appLoggingTo(lines).request("/v1/log/entries?limit=0", { headers: AUTH });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ error: { status: 400, message: "limit must be 1 to 1000" } });
    expect(lines).toEqual([]);
  });

  it("carry their headers: a 401 challenges for a bearer token", async () => {
    const res = await appLoggingTo([]).request("/v1/alerts");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="xbus-review"');
    expect(((await res.json()) as { error: { status: number } }).error.status).toBe(401);
  });

  it("answer a fault of the server 500 without its message, and log it without the token or the path's data", async () => {
    // A second reader of the same index, closed: every read fails as a broken database would.
    const broken = writeTestLogIndex([]);
    const lines: string[] = [];
    const app = appLoggingTo(lines, broken);
    broken.close();
    const res = await app.request(`/v1/subjects/${CITIZEN}/accesses?from=2025-07-09`, { headers: AUTH });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { status: 500, message: "internal error" } });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
    expect(line).toMatchObject({
      level: "error",
      component: "review",
      method: "GET",
      route: "/v1/subjects/:subjectId/accesses",
      msg: "review API request failed",
      err: { name: "TypeError" },
    });
    expect(lines[0]).not.toContain(TOKEN);
    expect(lines[0]).not.toContain(CITIZEN);
  });

  it("answer a route that does not exist 404 in the same shape", async () => {
    const res = await appLoggingTo([]).request("/nowhere");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { status: 404, message: "no such route" } });
  });
});
