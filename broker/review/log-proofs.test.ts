import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../../test/helpers/log-index.js";
import { verifyConsistency, verifyInclusion } from "../../verifier/index.js";

// The proof routes of the review API over a real index: what they answer for every kind of bad
// parameter (a 400 naming it, never a 500 or a proof of something else), and that what they do
// answer verifies with the offline verifier's own Merkle code.

const TOKEN = "log-proofs-test-token-0123456789";
const COUNT = 37;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
afterAll(() => log.close());
const app = log.reviewApp({ token: TOKEN, logSecret: randomBytes(32) });
const rootAt = (size: number) => log.reader.tree.root(size);

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(path, { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The 400's message for `path`, failing the test when the answer is anything but a 400. */
async function refusal(path: string): Promise<string> {
  const { status, body } = await get(path);
  expect(status, path).toBe(400);
  return String((body.error as { message?: unknown } | undefined)?.message);
}

const hashes = (list: unknown) => (list as string[]).map((h) => Buffer.from(h, "hex"));

describe("GET /v1/log/proof/inclusion", () => {
  it("proves each leaf in trees of every size up to the log's", async () => {
    for (const size of [1, 2, 5, 16, COUNT]) {
      for (const index of [0, Math.floor(size / 2), size - 1]) {
        const { status, body } = await get(`/v1/log/proof/inclusion?index=${index}&tree_size=${size}`);
        expect(status).toBe(200);
        expect(body).toMatchObject({ index, tree_size: size });
        const leaf = Buffer.from(String(body.leaf_hash), "hex");
        expect(verifyInclusion(index, size, leaf, hashes(body.audit_path), rootAt(size))).toBe(true);
      }
    }
  });

  it.each([
    ["tree_size=5", "index is required"],
    ["index=0", "tree_size is required"],
    ["index=-1&tree_size=5", "index must be a non-negative integer"],
    ["index=1.5&tree_size=5", "index must be a non-negative integer"],
    ["index=1e2&tree_size=5", "index must be a non-negative integer"],
    ["index=0x1&tree_size=5", "index must be a non-negative integer"],
    ["index=1&tree_size=five", "tree_size must be a non-negative integer"],
    ["index=1&tree_size=1234567890123456", "tree_size must be a non-negative integer"],
    ["index=5&tree_size=5", "index must be below tree_size (5), got 5"],
    ["index=9&tree_size=5", "index must be below tree_size (5), got 9"],
    ["index=0&tree_size=0", "index must be below tree_size (0), got 0"],
    [
      `index=0&tree_size=${COUNT + 1}`,
      `tree_size must be at most the log's size, ${COUNT}, got ${COUNT + 1}`,
    ],
    ["index=0&tree_size=999999999999999", `tree_size must be at most the log's size, ${COUNT}`],
    ["index=0&tree_size=5&index=1", "index must be given once"],
    ["index=0&tree_size=5&tree_size=6", "tree_size must be given once"],
    ["index=&tree_size=5", "index must be 1 to 256 characters"],
    ["index=0&tree_size=5&size=5", 'unknown query parameter "size" (index, tree_size)'],
    ["index=0&treesize=5", 'unknown query parameter "treesize"'],
  ])("refuses %s with a 400: %s", async (query, reason) => {
    expect(await refusal(`/v1/log/proof/inclusion?${query}`)).toContain(reason);
  });
});

describe("GET /v1/log/proof/consistency", () => {
  it("proves every smaller tree a prefix of every larger one, up to the log's size", async () => {
    for (const second of [1, 2, 3, 8, 9, COUNT]) {
      for (const first of [1, 2, 7, 8, second].filter((m) => m <= second)) {
        const { status, body } = await get(`/v1/log/proof/consistency?first=${first}&second=${second}`);
        expect(status).toBe(200);
        expect(body).toMatchObject({ first, second });
        const ok = verifyConsistency(first, second, rootAt(first), rootAt(second), hashes(body.proof));
        expect(ok, `${first} → ${second}`).toBe(true);
      }
    }
  });

  it.each([
    ["second=5", "first is required"],
    ["first=1", "second is required"],
    ["first=-1&second=5", "first must be a non-negative integer"],
    ["first=1&second=2.0", "second must be a non-negative integer"],
    ["first=0&second=5", "first must be 1 to second (5), got 0"],
    ["first=0&second=0", "first must be 1 to second (0), got 0"],
    ["first=6&second=5", "first must be 1 to second (5), got 6"],
    [`first=1&second=${COUNT + 1}`, `second must be at most the log's size, ${COUNT}, got ${COUNT + 1}`],
    [`first=${COUNT + 2}&second=${COUNT + 1}`, "second must be at most the log's size"],
    ["first=1&second=5&first=2", "first must be given once"],
    ["first=1&second=5&second=6", "second must be given once"],
    ["first=1&second=", "second must be 1 to 256 characters"],
    ["first=1&second=5&tree_size=5", 'unknown query parameter "tree_size" (first, second)'],
    ["m=1&n=5", 'unknown query parameter "m"'],
  ])("refuses %s with a 400: %s", async (query, reason) => {
    expect(await refusal(`/v1/log/proof/consistency?${query}`)).toContain(reason);
  });
});

describe("routes that take no parameters", () => {
  it.each(["/v1/log/tree-head?tree_size=5", `/v1/exchanges/${randomUUID()}?verbose=1`])(
    "refuse one: %s",
    async (path) => {
      expect(await refusal(path)).toMatch(/^unknown query parameter "\w+" \(this route takes none\)$/);
    },
  );

  it("answer without", async () => {
    expect((await get("/v1/log/tree-head")).body).toMatchObject({ tree_size: COUNT });
  });
});
