import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { LOG_ID, writeTestLogIndex } from "../../test/helpers/log-index.js";
import { openCheckpoint } from "../../verifier/index.js";
import { publicLogRoutes } from "./routes/checkpoint.js";

// The public routes of the review API over a real index: what anyone may read without a token.

const TOKEN = "checkpoint-test-token-0123456789";
const COUNT = 11;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
afterAll(() => log.close());
const app = log.reviewApp({ token: TOKEN, logSecret: randomBytes(32) });

describe("GET /checkpoint", () => {
  it("answers without a token: the latest signed head as a C2SP checkpoint that opens with the log's vkey", async () => {
    const res = await app.request("/checkpoint");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const note = await res.text();
    expect(
      note.startsWith(
        `${LOG_ID}\n${COUNT}\n${log.reader.tree.root(COUNT).toString("base64")}\n\n— ${LOG_ID} `,
      ),
    ).toBe(true);
    const opened = openCheckpoint(note, { logVkey: log.vkey });
    expect(opened.ok && opened.checkpoint.rootHash.equals(log.reader.tree.root(COUNT))).toBe(true);
  });

  it("is the same statement as the signed tree head: same size and root", async () => {
    const head = (await (
      await app.request("/v1/log/tree-head", { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { tree_size: number; root_hash: string };
    const opened = openCheckpoint(await (await app.request("/checkpoint")).text(), { logVkey: log.vkey });
    expect(opened.ok && [opened.checkpoint.size, opened.checkpoint.rootHash.toString("hex")]).toEqual([
      head.tree_size,
      head.root_hash,
    ]);
  });

  it("keeps the tree head route behind the token", async () => {
    expect((await app.request("/v1/log/tree-head")).status).toBe(401);
  });
});

describe("GET /v1/log/witness-policy", () => {
  it("serves the policy's text behind the reviewer token, and 404 for a log without one", async () => {
    const policy = `log ${log.vkey}\nquorum none\n`;
    const withPolicy = log.reviewApp({ token: TOKEN, logSecret: randomBytes(32), witnessPolicy: policy });
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    expect((await withPolicy.request("/v1/log/witness-policy")).status).toBe(401);
    const res = await withPolicy.request("/v1/log/witness-policy", auth);
    expect([res.status, res.headers.get("content-type"), await res.text()]).toEqual([
      200,
      expect.stringMatching(/^text\/plain/),
      policy,
    ]);
    const none = await app.request("/v1/log/witness-policy", auth);
    expect(none.status).toBe(404);
    expect(await none.text()).toContain("this log has no witness policy");
  });
});

describe("GET /checkpoint with witnessing", () => {
  it("serves the witnessed checkpoint, the log-signed one at /checkpoint/signed, and 503 until one is witnessed", async () => {
    let witnessed: { size: number; note: string } | undefined;
    const signed = { latest: () => ({ size: 7, note: "signed-note\n" }) };
    const routes = publicLogRoutes({ latest: () => witnessed }, signed);
    const before = await routes.request("/checkpoint");
    expect([before.status, await before.text()]).toEqual([
      503,
      expect.stringContaining("no checkpoint witnessed by the policy's quorum yet"),
    ]);
    expect(await (await routes.request("/checkpoint/signed")).text()).toBe("signed-note\n");
    witnessed = { size: 5, note: "witnessed-note\n" };
    expect(await (await routes.request("/checkpoint")).text()).toBe("witnessed-note\n");
  });
});
