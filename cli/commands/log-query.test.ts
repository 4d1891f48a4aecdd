import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ReviewServer, serveReview } from "../../broker/review/serve.js";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { type TestLogIndex, writeTestLogIndex } from "../../test/helpers/log-index.js";
import { runXbusAsync } from "../../test/helpers/xbus-process.js";
import type { ExchangesPage } from "../log/query.js";

const TOKEN = randomBytes(24).toString("base64url");
const EHR = "spiffe://gov.bt/agency/moh/system/ehr";
/** Wednesday 9 July 2025, 00:00 UTC. */
const WED = Date.UTC(2025, 6, 9);
/** More than two of the API's largest pages (1000), so showing them all takes three requests. */
const COUNT = 2_150;
/** One exchange a second, every seventh refused (the newest, 2149, too). */
const exchanges = Array.from({ length: COUNT }, (_, i) => ({
  id: randomUUID(),
  time: WED + i * 1_000,
  deny: i % 7 === 0,
}));
const newestFirst = exchanges.map((e) => e.id).reverse();

describe("xbus log query", () => {
  let log: TestLogIndex;
  let server: ReviewServer;

  beforeAll(async () => {
    log = writeTestLogIndex(
      exchanges.map((e, i) => ({
        exchangeId: e.id,
        time: BigInt(e.time),
        consumer: EHR,
        service: "dcrc.v1.CitizenRegistry/GetCitizen",
        subjectRef: String(i).padStart(64, "0"),
        purpose: "treatment",
        decision: e.deny ? Decision.DENY : Decision.ALLOW,
        status: e.deny ? "POLICY_DENIED" : "OK",
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
    runXbusAsync(["log", "query", "--url", server.url, ...args], { XBUS_REVIEW_TOKEN: TOKEN });
  /** The exchange ids of a table, in its order. */
  const rows = (stdout: string) =>
    stdout
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split("\t")[7]);
  const cursorIn = (stderr: string) => /--cursor (\S+)\n$/.exec(stderr)?.[1];

  it("shows the newest 50 by default, and says on stderr that more match and where to go on", async () => {
    const r = await xbus();
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]?.split("\t")).toEqual([
      "index",
      "time",
      "consumer",
      "service",
      "purpose",
      "decision",
      "status",
      "exchange_id",
    ]);
    expect(lines[1]?.split("\t")).toEqual([
      String(COUNT - 1),
      new Date(WED + (COUNT - 1) * 1_000).toISOString(),
      EHR,
      "dcrc.v1.CitizenRegistry/GetCitizen",
      "treatment",
      "deny",
      "POLICY_DENIED",
      exchanges.at(-1)?.id,
    ]);
    expect(rows(r.stdout)).toEqual(newestFirst.slice(0, 50));
    expect(r.stderr).toBe(
      `50 exchanges; more match: raise --limit, or continue with --cursor ${COUNT - 50}\n`,
    );
  }, 60_000);

  it("follows the API's pages to show every exchange exactly once when --limit covers them", async () => {
    const r = await xbus("--limit", "5000");
    expect(r.status, r.stderr).toBe(0);
    expect(rows(r.stdout)).toEqual(newestFirst);
    expect(r.stderr).toBe(`${COUNT} exchanges\n`);
  }, 60_000);

  it("stops at --limit across pages, and --cursor continues where it stopped", async () => {
    const first = await xbus("--limit", "1500");
    expect(first.status, first.stderr).toBe(0);
    expect(rows(first.stdout)).toEqual(newestFirst.slice(0, 1500));
    const cursor = cursorIn(first.stderr);
    expect(cursor).toBeDefined();
    const rest = await xbus("--limit", "1500", "--cursor", cursor ?? "");
    expect(rest.status, rest.stderr).toBe(0);
    expect(rows(rest.stdout)).toEqual(newestFirst.slice(1500));
    expect(rest.stderr).toBe(`${COUNT - 1500} exchanges\n`);
  }, 60_000);

  it("says nothing more matches when --limit is exactly what is left", async () => {
    const r = await xbus("--decision", "deny", "--limit", String(Math.ceil(COUNT / 7)));
    expect(r.status, r.stderr).toBe(0);
    expect(rows(r.stdout)).toEqual(
      exchanges
        .filter((e) => e.deny)
        .map((e) => e.id)
        .reverse(),
    );
    expect(r.stderr).toBe(`${Math.ceil(COUNT / 7)} exchanges\n`);
  }, 60_000);

  it("prints one JSON object with every page's exchanges and the cursor to go on with --json", async () => {
    const r = await xbus("--limit", "1200", "--json");
    expect(r.status, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout) as ExchangesPage;
    expect(Object.keys(body).sort()).toEqual(["exchanges", "next_cursor"]);
    expect(body.exchanges.map((e) => e.record?.exchange_id)).toEqual(newestFirst.slice(0, 1200));
    expect(body.next_cursor).toBe(String(COUNT - 1200));
    expect(cursorIn(r.stderr)).toBe(body.next_cursor);

    const rest = await xbus("--limit", "5000", "--cursor", body.next_cursor ?? "", "--json");
    expect(rest.status, rest.stderr).toBe(0);
    const tail = JSON.parse(rest.stdout) as ExchangesPage;
    expect(tail.exchanges.map((e) => e.record?.exchange_id)).toEqual(newestFirst.slice(1200));
    expect(tail.next_cursor).toBeNull();
  }, 60_000);

  it.each([
    // A value the command line itself can tell is wrong: a usage error (exit 2).
    [["--limit", "0"], "--limit must be a whole number from 1", 2],
    [["--limit", "ten"], "--limit must be a whole number from 1", 2],
    // One only the server can judge: the query failed (exit 1).
    [["--cursor", "abc"], "HTTP 400 cursor must be a non-negative integer", 1],
    [["--decision", "maybe"], "HTTP 400 decision must be one of allow, deny, invalid, error", 1],
  ] as const)(
    "fails on %j with the reason, printing nothing on stdout",
    async (args, reason, status) => {
      const r = await xbus(...args);
      expect(r.status).toBe(status);
      expect(r.stderr).toContain(reason);
      expect(r.stdout).toBe("");
    },
    60_000,
  );
});
