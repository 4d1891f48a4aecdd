import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../../test/helpers/log-index.js";
import { subjectRef } from "../log/subject-ref.js";

const TOKEN = "accesses-test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const SECRET = randomBytes(32);

const CITIZEN = "10000000001";
const NEIGHBOUR = "10000000002";
const MIN = 60_000;
/** Wednesday 9 July 2025, 00:00 UTC. */
const WED = Date.UTC(2025, 6, 9);
/** How many times CITIZEN's records were read: more than two pages of 100. */
const READS = 250;

/**
 * CITIZEN read once a minute from WED, every third leaf NEIGHBOUR's, so CITIZEN's leaf indexes have
 * gaps a cursor must step over.
 */
const leaves: { id: string; time: number; subject: string }[] = [];
for (let i = 0; i < READS; i++) {
  leaves.push({ id: randomUUID(), time: WED + i * MIN, subject: CITIZEN });
  if (i % 2 === 0) leaves.push({ id: randomUUID(), time: WED + i * MIN, subject: NEIGHBOUR });
}
const citizenReads = leaves.filter((l) => l.subject === CITIZEN);
const log = writeTestLogIndex(
  leaves.map((l) => ({
    exchangeId: l.id,
    time: BigInt(l.time),
    consumer: "spiffe://gov.bt/agency/moh/system/ehr",
    service: "dcrc.v1.CitizenRegistry/GetCitizen",
    subjectRef: subjectRef(SECRET, l.subject),
    purpose: "treatment",
    decision: Decision.ALLOW,
    status: "OK",
    fieldsReleased: ["name"],
  })),
);
afterAll(() => log.close());

const app = log.reviewApp({ token: TOKEN, logSecret: SECRET });

interface Access {
  time: number;
  exchange_id: string;
}
interface AccessesJson {
  accesses: Access[];
  next_cursor: string | null;
}

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(path, { headers: AUTH });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function page(query: string, subject = CITIZEN): Promise<AccessesJson> {
  const { status, body } = await get(`/v1/subjects/${subject}/accesses?${query}`);
  expect(status, JSON.stringify(body.error)).toBe(200);
  return body as unknown as AccessesJson;
}

/** Follows next_cursor to the end, as a client would; `query` is repeated on every page. */
async function allPages(query: string): Promise<AccessesJson[]> {
  const pages = [await page(query)];
  for (let next = pages[0]?.next_cursor; next != null; next = pages.at(-1)?.next_cursor) {
    expect(pages.length, "next_cursor never ends").toBeLessThan(READS);
    pages.push(await page(`${query}&cursor=${encodeURIComponent(next)}`));
  }
  return pages;
}

async function refusal(path: string): Promise<string> {
  const { status, body } = await get(path);
  expect(status).toBe(400);
  return (body.error as { message: string }).message;
}

describe("GET /v1/subjects/:subjectId/accesses", () => {
  it("pages through all 250 accesses, newest first, each exactly once, and ends with next_cursor null", async () => {
    const pages = await allPages("limit=100");
    expect(pages.map((p) => p.accesses.length)).toEqual([100, 100, 50]);
    expect(pages.map((p) => p.next_cursor === null)).toEqual([false, false, true]);
    const seen = pages.flatMap((p) => p.accesses);
    expect(seen.map((a) => a.exchange_id)).toEqual(citizenReads.map((r) => r.id).reverse());
    expect(new Set(seen.map((a) => a.exchange_id)).size).toBe(READS);
  });

  it("keeps each access's fields as before and adds only next_cursor", async () => {
    const p = await page("limit=1");
    expect(Object.keys(p).sort()).toEqual(["accesses", "next_cursor"]);
    expect(p.accesses[0]).toEqual({
      time: WED + (READS - 1) * MIN,
      consumer: "spiffe://gov.bt/agency/moh/system/ehr",
      service: "dcrc.v1.CitizenRegistry/GetCitizen",
      purpose: "treatment",
      decision: "allow",
      status: "OK",
      fields_released: ["name"],
      exchange_id: citizenReads.at(-1)?.id,
    });
  });

  it("answers 100 by default and up to 1000 when asked", async () => {
    const first = await page("");
    expect(first.accesses).toHaveLength(100);
    expect(first.next_cursor).not.toBeNull();
    const all = await page("limit=1000");
    expect(all.accesses).toHaveLength(READS);
    expect(all.next_cursor).toBeNull();
  });

  it("says null on a page that holds exactly the last access, not one page later", async () => {
    const pages = await allPages("limit=125");
    expect(pages.map((p) => p.accesses.length)).toEqual([125, 125]);
    expect(pages[1]?.next_cursor).toBeNull();
  });

  it("filters by from (inclusive) and to (exclusive), across pages", async () => {
    const from = new Date(WED + 10 * MIN).toISOString();
    const to = WED + 40 * MIN;
    const pages = await allPages(`from=${from}&to=${to}&limit=7`);
    const seen = pages.flatMap((p) => p.accesses.map((a) => a.time));
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => WED + (39 - i) * MIN));
  });

  it("shows a citizen nobody read an empty last page", async () => {
    expect(await page("", "10000000009")).toEqual({ accesses: [], next_cursor: null });
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=1001", "limit"],
    ["limit=-1", "limit"],
    ["limit=ten", "limit"],
    ["limit=", "limit"],
    ["cursor=abc", "cursor"],
    ["cursor=-5", "cursor"],
    ["cursor=", "cursor"],
    ["cursor=1&cursor=2", "cursor"],
    ["before=100", '"before"'],
    ["subject=10000000002", '"subject"'],
    ["from=yesterday", "from"],
  ])("refuses %s with 400 naming %s", async (query, param) => {
    expect(await refusal(`/v1/subjects/${CITIZEN}/accesses?${query}`)).toContain(param);
  });

  it("needs a reviewer token", async () => {
    expect((await app.request(`/v1/subjects/${CITIZEN}/accesses`)).status).toBe(401);
  });
});

describe("times in queries", () => {
  const routes = [
    `/v1/subjects/${CITIZEN}/accesses?from=`,
    "/v1/exchanges?from=",
    `/v1/alerts?to=${WED + 86_400_000}&from=`,
  ];

  it.each(
    routes.flatMap((route) =>
      ["2025-07-09T10:00:00", "2025-07-09T10:00", "2025-07-09T10:00:00.000"].map((t) => [route, t]),
    ),
  )("%s refuses %s, a time without a zone, and says a zone is required", async (route, time) => {
    const message = await refusal(`${route}${time}`);
    expect(message).toContain("with a zone (Z or ±hh:mm)");
    expect(message).toContain(`got "${time}"`);
  });

  it.each([
    "2025-07-09 10:00:00Z",
    "2025-07-09T10:00:00+0600",
    "2025-07-09T10:00:00z",
    "2025-02-30",
    "2025-02-29T00:00:00Z",
    "2025-07-09T24:00:00Z",
    "2025-07-09T10:00:00+24:00",
    "Jul 9 2025",
  ])("refuses %s, which is not an ISO 8601 time with a zone", async (time) => {
    expect(await refusal(`/v1/exchanges?from=${encodeURIComponent(time)}`)).toContain("from must be");
  });

  it("echoes at most 64 characters of what it refuses", async () => {
    const long = `2025-07-09T10:00:00${"x".repeat(200)}`;
    const message = await refusal(`/v1/exchanges?to=${long}`);
    expect(message).toContain(`got "${long.slice(0, 64)}"`);
    expect(message).not.toContain(long.slice(0, 65));
  });

  it.each([
    ["Z", "2025-07-09T00:10:00Z", "2025-07-09T00:20:00.000Z"],
    ["an offset", "2025-07-09T06:10:00+06:00", "2025-07-08T19:20:00-05:00"],
    ["milliseconds", String(WED + 10 * MIN), String(WED + 20 * MIN)],
    ["a date alone (midnight UTC) and a later Z", "2025-07-09", "2025-07-09T00:20Z"],
  ])("takes %s and filters [from, to) by it", async (_, from, to) => {
    const p = await page(`from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&limit=1000`);
    const first = from === "2025-07-09" ? 0 : 10;
    expect(p.accesses.map((a) => a.time)).toEqual(
      Array.from({ length: 20 - first }, (_, i) => WED + (19 - i) * MIN),
    );
  });

  it("reads a time with an offset as the same instant in UTC, on /v1/alerts too", async () => {
    const { status, body } = await get("/v1/alerts?from=2025-07-09T06:00:00%2B06:00&to=2025-07-09T01:00:00Z");
    expect(status).toBe(200);
    expect(body).toMatchObject({ from: WED, to: WED + 60 * MIN });
  });
});
