import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ReviewServer, serveReview } from "../broker/review/serve.js";
import { rawEd25519 } from "../core/signing/index.js";
import { Decision } from "../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../test/helpers/log-index.js";
import { type ExportLine, exportLog } from "./export.js";
import { reviewClient } from "./review-client.js";
import { verifyExport } from "./verify.js";

const TOKEN = "export-test-token-0123456789abc";
/** Past two pages of the API's largest, 1000. */
const COUNT = 2003;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
let server: ReviewServer;
beforeAll(async () => {
  server = await serveReview(log.reviewApp({ token: TOKEN, logSecret: randomBytes(32) }));
});
afterAll(async () => {
  await server?.close();
  log.close();
});

describe("xbus log export", () => {
  it("pages through a log longer than the API's largest page, and the export verifies", async () => {
    const pages: number[] = [];
    const lines: ExportLine[] = [];
    for await (const line of exportLog(reviewClient(server.url, TOKEN), (done) => pages.push(done)))
      lines.push(line);
    expect(pages).toEqual([1000, 2000, COUNT]);
    expect(lines.filter((l) => l.type === "entry").map((l) => (l.type === "entry" ? l.index : -1))).toEqual(
      Array.from({ length: COUNT }, (_, i) => i),
    );
    const publicKey = rawEd25519(log.publicKey).toString("base64");
    expect(verifyExport(lines, { publicKey })).toMatchObject({
      ok: true,
      entries: COUNT,
    });
  });
});
