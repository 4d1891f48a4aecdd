import { createHash, randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AlertsJson } from "../../broker/index.js";
import { type ReviewServer, serveReview } from "../../broker/review/serve.js";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { type TestLogIndex, writeTestLogIndex } from "../../test/helpers/log-index.js";
import { runXbusAsync } from "../../test/helpers/xbus-process.js";

const TOKEN = randomBytes(24).toString("base64url");
const EHR = "spiffe://gov.bt/agency/moh/system/ehr";
/** Wednesday 9 July 2025, 09:00 UTC. */
const NINE = Date.UTC(2025, 6, 9, 9);
const WINDOW = ["--from", "2025-07-09T00:00:00Z", "--to", "2025-07-10T00:00:00Z"];

describe("xbus log alerts", () => {
  let log: TestLogIndex;
  let server: ReviewServer;

  beforeAll(async () => {
    // Twelve refusals a second apart (a denials alert), and one read at 22:00 (an off-hours alert).
    const records = [
      ...Array.from({ length: 12 }, (_, i) => ({ time: NINE + i * 1_000, decision: Decision.DENY })),
      { time: NINE + 13 * 3_600_000, decision: Decision.ALLOW },
    ];
    log = writeTestLogIndex(
      records.map((r, i) => ({
        exchangeId: randomUUID(),
        time: BigInt(r.time),
        consumer: EHR,
        service: "dcrc.v1.CitizenRegistry/GetCitizen",
        subjectRef: createHash("sha256").update(String(i)).digest("hex"),
        purpose: "treatment",
        decision: r.decision,
        status: r.decision === Decision.ALLOW ? "OK" : "POLICY_DENIED",
      })),
    );
    server = await serveReview(log.reviewApp({ token: TOKEN, logSecret: randomBytes(32) }));
  });

  afterAll(async () => {
    await server?.close();
    log?.close();
  });

  // Asynchronous: the review API answering the CLI runs in this very process.
  const xbus = (...args: string[]) =>
    runXbusAsync(["log", "alerts", "--url", server.url, ...args], { XBUS_REVIEW_TOKEN: TOKEN });

  it("prints one line per alert, newest first, and the full answer with --json", async () => {
    const table = await xbus(...WINDOW);
    expect(table.status, table.stderr).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]?.split("\t")).toEqual([
      "id",
      "rule",
      "first_at",
      "last_at",
      "count",
      "consumer",
      "summary",
    ]);
    expect(lines.slice(1).map((l) => l.split("\t").slice(1, 6))).toEqual([
      ["off_hours", "2025-07-09T22:00:00.000Z", "2025-07-09T22:00:00.000Z", "1", EHR],
      ["denials", "2025-07-09T09:00:00.000Z", "2025-07-09T09:00:11.000Z", "12", EHR],
    ]);
    expect(table.stderr).toContain("2 alerts from 2025-07-09T00:00:00.000Z");

    const json = await xbus(...WINDOW, "--rule", "denials", "--json");
    expect(json.status, json.stderr).toBe(0);
    const body = JSON.parse(json.stdout) as AlertsJson;
    expect(body.alerts.map((a) => [a.rule, a.count, a.exchanges.length])).toEqual([["denials", 12, 12]]);
  }, 60_000);

  it("fails with the server's reason on a bad parameter", async () => {
    const res = await xbus("--rule", "weekends");
    expect(res.status).toBe(1);
    expect(res.stderr).toContain("HTTP 400 rule must be one of bulk_lookup, denials, off_hours");
  }, 60_000);
});
