import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../../test/helpers/log-index.js";
import { subjectRef } from "../log/subject-ref.js";
import { bucketFor, type ExchangeStatsJson, MAX_BUCKETS } from "./routes/stats.js";

// The charts' series: counts per bucket by agency and by decision, alerts by the bucket they start in,
// over a bounded window; and the agency filter the charts drill down with.

const TOKEN = "stats-test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const SECRET = randomBytes(32);
const EHR = "spiffe://gov.bt/agency/moh/system/ehr";
const SCHOOL = "spiffe://gov.bt/agency/moe/system/school-admissions";
const MIN = 60_000;
/** Wednesday 9 July 2025, 04:00 UTC: 10:00 in Thimphu, inside office hours. */
const T0 = Date.UTC(2025, 6, 9, 4);

/** 30 minutes: EHR reads one citizen a minute; SCHOOL is refused 3 times in minute 10, then reads 40 citizens in minute 20 (a bulk lookup). */
const rows = [
  ...Array.from({ length: 30 }, (_, i) => ({
    t: T0 + i * MIN,
    consumer: EHR,
    deny: false,
    subject: "10000000001",
  })),
  ...[0, 1, 2].map((i) => ({
    t: T0 + 10 * MIN + i * 1000,
    consumer: SCHOOL,
    deny: true,
    subject: "10000000002",
  })),
  ...Array.from({ length: 40 }, (_, i) => ({
    t: T0 + 20 * MIN + i * 100,
    consumer: SCHOOL,
    deny: false,
    subject: String(20000000000 + i),
  })),
].sort((a, b) => a.t - b.t);
const log = writeTestLogIndex(
  rows.map((r) => ({
    exchangeId: randomUUID(),
    time: BigInt(r.t),
    consumer: r.consumer,
    service: "dcrc.citizen-record",
    subjectRef: subjectRef(SECRET, r.subject),
    purpose: "p",
    decision: r.deny ? Decision.DENY : Decision.ALLOW,
    status: r.deny ? "POLICY_DENIED" : "OK",
  })),
);
afterAll(() => log.close());
const app = log.reviewApp({ token: TOKEN, logSecret: SECRET });
const get = (path: string) => app.request(path, { headers: AUTH });

it("picks the narrowest bucket that keeps a window to MAX_BUCKETS points", () => {
  expect(bucketFor(30 * MIN)).toBe(MIN);
  expect(bucketFor(24 * 60 * MIN)).toBe(5 * MIN);
  expect(bucketFor(31 * 24 * 60 * MIN)).toBe(6 * 60 * MIN);
  expect(Math.ceil((7 * 24 * 60 * MIN) / bucketFor(7 * 24 * 60 * MIN))).toBeLessThanOrEqual(MAX_BUCKETS);
});

it("counts exchanges per minute by agency and by decision, and the alerts where they start", async () => {
  const res = await get(`/v1/stats/exchanges?from=${T0}&to=${T0 + 30 * MIN}`);
  expect(res.status).toBe(200);
  const s = (await res.json()) as ExchangeStatsJson;
  expect(s.bucket_ms).toBe(MIN);
  expect(s.times).toHaveLength(30);
  expect(s.times[10]).toBe(T0 + 10 * MIN);
  const agency = (a: string) => s.agencies.find((x) => x.agency === a)?.counts ?? [];
  const decision = (d: string) => s.decisions.find((x) => x.decision === d)?.counts ?? [];
  expect(agency("moh")).toEqual(new Array(30).fill(1));
  expect(agency("moe")[10]).toBe(3);
  expect(agency("moe")[20]).toBe(40);
  expect(agency("moe").reduce((a, b) => a + b)).toBe(43);
  expect(decision("deny")[10]).toBe(3);
  expect(decision("deny").reduce((a, b) => a + b)).toBe(3);
  expect(decision("allow").reduce((a, b) => a + b)).toBe(70);
  // The bulk lookup raises an alert, counted in the minute it starts.
  expect(s.alerts[20]).toBeGreaterThanOrEqual(1);
  // The same alerts as /v1/alerts over the window, each in the minute of its first exchange.
  const listed = (await (await get(`/v1/alerts?from=${T0}&to=${T0 + 30 * MIN}`)).json()) as {
    alerts: { first_at: number }[];
  };
  const expected = new Array(30).fill(0);
  for (const a of listed.alerts) expected[Math.floor((a.first_at - T0) / MIN)]++;
  expect(s.alerts).toEqual(expected);
  expect(s.alerts_complete).toBe(true);
});

it("refuses a window longer than the alerts' or reversed, and parameters it does not take", async () => {
  const long = await get(`/v1/stats/exchanges?from=${T0 - 40 * 24 * 60 * MIN}&to=${T0}`);
  expect(long.status).toBe(400);
  expect(((await long.json()) as { error: { message: string } }).error.message).toContain("at most 31 days");
  expect((await get(`/v1/stats/exchanges?from=${T0}&to=${T0 - 1}`)).status).toBe(400);
  expect((await get("/v1/stats/exchanges?bucket=1")).status).toBe(400);
  expect((await app.request("/v1/stats/exchanges")).status).toBe(401);
});

it("filters exchanges by agency, the filter the charts drill down with", async () => {
  const res = await get(`/v1/exchanges?agency=moe&decision=deny&limit=100`);
  const body = (await res.json()) as { exchanges: { record: { consumer: string; decision: string } }[] };
  expect(body.exchanges).toHaveLength(3);
  expect(body.exchanges.every((e) => e.record.consumer === SCHOOL && e.record.decision === "deny")).toBe(
    true,
  );
  expect(
    ((await (await get("/v1/exchanges?agency=moh&limit=100")).json()) as { exchanges: unknown[] }).exchanges,
  ).toHaveLength(30);
  expect((await get("/v1/exchanges?agency=MOE%25")).status).toBe(400);
});
