import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../../test/helpers/log-index.js";
import { subjectRef } from "../log/subject-ref.js";

const TOKEN = "exchanges-test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const SECRET = randomBytes(32);

const EHR = "spiffe://gov.bt/agency/moh/system/ehr";
const SCHOOL = "spiffe://gov.bt/agency/moe/system/school-admissions";
const CITIZEN = "10000000001";
const MIN = 60_000;
/** Wednesday 9 July 2025, 00:00 UTC. */
const WED = Date.UTC(2025, 6, 9);
/** More than five pages of the default 50. */
const COUNT = 260;

/**
 * One exchange a minute from WED: every third from SCHOOL, every fifth refused, every fourth about
 * CITIZEN, so each filter picks leaf indexes with gaps that a cursor must step over.
 */
const exchanges = Array.from({ length: COUNT }, (_, i) => ({
  index: i,
  id: randomUUID(),
  time: WED + i * MIN,
  consumer: i % 3 === 0 ? SCHOOL : EHR,
  decision: i % 5 === 0 ? "deny" : "allow",
  subject: i % 4 === 0 ? CITIZEN : String(20000000000 + i),
}));
const log = writeTestLogIndex(
  exchanges.map((e) => ({
    exchangeId: e.id,
    time: BigInt(e.time),
    consumer: e.consumer,
    service: "dcrc.v1.CitizenRegistry/GetCitizen",
    subjectRef: subjectRef(SECRET, e.subject),
    purpose: "treatment",
    decision: e.decision === "deny" ? Decision.DENY : Decision.ALLOW,
    status: e.decision === "deny" ? "POLICY_DENIED" : "OK",
  })),
);
afterAll(() => log.close());

const app = log.reviewApp({ token: TOKEN, logSecret: SECRET });

interface ExchangesJson {
  exchanges: { index: number; record: { exchange_id: string; time: number } }[];
  next_cursor: string | null;
}

async function get(query: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(`/v1/exchanges?${query}`, { headers: AUTH });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function page(query: string): Promise<ExchangesJson> {
  const { status, body } = await get(query);
  expect(status, JSON.stringify(body.error)).toBe(200);
  return body as unknown as ExchangesJson;
}

/** Follows next_cursor to the end, as a client would; `query` is repeated on every page. */
async function allPages(query: string): Promise<ExchangesJson[]> {
  const pages = [await page(query)];
  for (let next = pages[0]?.next_cursor; next != null; next = pages.at(-1)?.next_cursor) {
    expect(pages.length, "next_cursor never ends").toBeLessThan(COUNT);
    pages.push(await page(`${query}&cursor=${encodeURIComponent(next)}`));
  }
  return pages;
}

const ids = (pages: ExchangesJson[]) => pages.flatMap((p) => p.exchanges.map((e) => e.record.exchange_id));
const newestFirst = (keep: (e: (typeof exchanges)[number]) => boolean) =>
  exchanges
    .filter(keep)
    .map((e) => e.id)
    .reverse();

async function refusal(query: string): Promise<string> {
  const { status, body } = await get(query);
  expect(status).toBe(400);
  return (body.error as { message: string }).message;
}

describe("GET /v1/exchanges", () => {
  it("pages through every exchange, newest first, each exactly once, and ends with next_cursor null", async () => {
    const pages = await allPages("limit=100");
    expect(pages.map((p) => p.exchanges.length)).toEqual([100, 100, 60]);
    expect(pages.map((p) => p.next_cursor === null)).toEqual([false, false, true]);
    expect(ids(pages)).toEqual(newestFirst(() => true));
    expect(new Set(ids(pages)).size).toBe(COUNT);
  });

  it("says null on a page that holds exactly the last exchange, not one page later", async () => {
    const pages = await allPages("limit=130");
    expect(pages.map((p) => p.exchanges.length)).toEqual([130, 130]);
    expect(pages[1]?.next_cursor).toBeNull();
  });

  it("answers 50 by default and up to 1000 when asked", async () => {
    const first = await page("");
    expect(first.exchanges).toHaveLength(50);
    expect(first.next_cursor).toBe(String(COUNT - 50));
    const all = await page("limit=1000");
    expect(all.exchanges).toHaveLength(COUNT);
    expect(all.next_cursor).toBeNull();
  });

  it("keeps its answer's shape: exchanges of {index, record} and next_cursor", async () => {
    const p = await page("limit=1");
    expect(Object.keys(p).sort()).toEqual(["exchanges", "next_cursor"]);
    expect(Object.keys(p.exchanges[0] ?? {}).sort()).toEqual(["index", "record"]);
    expect(p.exchanges[0]).toMatchObject({
      index: COUNT - 1,
      record: { exchange_id: exchanges.at(-1)?.id, consumer: EHR, decision: "allow", status: "OK" },
    });
  });

  it.each([
    [
      `consumer=${encodeURIComponent(SCHOOL)}&decision=deny`,
      (e: (typeof exchanges)[number]) => e.consumer === SCHOOL && e.decision === "deny",
    ],
    [`subject=${CITIZEN}`, (e: (typeof exchanges)[number]) => e.subject === CITIZEN],
    [
      `decision=allow&from=${new Date(WED + 30 * MIN).toISOString()}&to=${WED + 200 * MIN}`,
      (e: (typeof exchanges)[number]) => e.decision === "allow" && e.index >= 30 && e.index < 200,
    ],
  ])("keeps the filters %s across pages, each match exactly once", async (filters, keep) => {
    const pages = await allPages(`${filters}&limit=7`);
    expect(ids(pages)).toEqual(newestFirst(keep));
    expect(pages.at(-1)?.next_cursor).toBeNull();
    expect(pages.at(-1)?.exchanges.length).toBeGreaterThan(0);
  });

  it("answers an empty last page past the oldest exchange", async () => {
    expect(await page("cursor=0")).toEqual({ exchanges: [], next_cursor: null });
    expect(await page("consumer=spiffe%3A%2F%2Fgov.bt%2Fagency%2Fx%2Fsystem%2Fnobody")).toEqual({
      exchanges: [],
      next_cursor: null,
    });
  });

  it.each([
    ["limit=0", "limit must be 1 to 1000"],
    ["limit=1001", "limit must be 1 to 1000"],
    ["limit=-1", "limit"],
    ["limit=ten", "limit"],
    ["limit=", "limit"],
    ["cursor=abc", "cursor"],
    ["cursor=", "cursor"],
    ["cursor=1&cursor=2", "cursor must be given once"],
    ["consumr=x", 'unknown query parameter "consumr"'],
    [`decision=deny&consumr=${encodeURIComponent(EHR)}`, '"consumr"'],
    ["before=100", '"before"'],
    ["consumer=", "consumer must be 1 to 256 characters"],
    ["decision=allow&decision=deny", "decision must be given once"],
    ["decision=maybe", "decision must be one of"],
    ["subject=abc", "subject is not a citizen ID"],
  ])("refuses %s with 400: %s", async (query, reason) => {
    expect(await refusal(query)).toContain(reason);
  });

  it("names every parameter it takes when it refuses one", async () => {
    expect(await refusal("consumr=x")).toContain(
      "(consumer, agency, service, subject, purpose, decision, from, to, cursor, limit)",
    );
  });

  it("needs a reviewer token", async () => {
    expect((await app.request("/v1/exchanges")).status).toBe(401);
  });
});
