import { createHash, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Decision, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import { LogIndex, LogIndexReader } from "../indexer/log-index.js";
import { subjectRef } from "../log/subject-ref.js";
import type { AlertOptions, AlertsJson } from "./alerts.js";
import { createReviewApp } from "./app.js";

const TOKEN = "alerts-test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const LOG_ID = "xbus-test-log";
const SECRET = randomBytes(32);
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const dir = mkdtempSync(join(tmpdir(), "xbus-alerts-"));

const EHR = "spiffe://gov.bt/agency/moh/system/ehr";
const TAX = "spiffe://gov.bt/agency/drc/system/tax";
const MIN = 60_000;
const HOUR = 60 * MIN;
/** Wednesday 9 July 2025, 00:00 UTC. */
const WED = Date.UTC(2025, 6, 9);
/** Saturday 12 July 2025, 00:00 UTC. */
const SAT = Date.UTC(2025, 6, 12);

interface Ex {
  time: number;
  consumer?: string;
  /** A citizen ID; its reference under the log secret goes into the record. */
  subject?: string;
  decision?: Decision;
  service?: string;
}

const opened: LogIndexReader[] = [];
afterEach(() => {
  for (const x of opened.splice(0)) x.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A real index file written by the real writer from real records, served through a read-only
 * reader, as the broker's review API reads it beside the indexer.
 */
function indexOf(exchanges: readonly Ex[]): { reader: LogIndexReader; ids: string[] } {
  const path = join(dir, `${randomUUID()}.sqlite`);
  const writer = new LogIndex(path, LOG_ID, privateKey);
  const ids = exchanges.map(() => randomUUID());
  writer.appendBatch(
    exchanges.map((e, i) => ({
      seq: i + 1,
      leaf: toBinary(
        ExchangeRecordSchema,
        create(ExchangeRecordSchema, {
          exchangeId: ids[i],
          time: BigInt(e.time),
          consumer: e.consumer ?? EHR,
          service: e.service ?? "dcrc.v1.CitizenRegistry/GetCitizen",
          subjectRef: subjectRef(SECRET, e.subject ?? "10000000001"),
          purpose: "treatment",
          decision: e.decision ?? Decision.ALLOW,
          status: (e.decision ?? Decision.ALLOW) === Decision.ALLOW ? "OK" : "POLICY_DENIED",
        }),
      ),
    })),
  );
  writer.signTreeHead();
  writer.close();
  const reader = new LogIndexReader(path, LOG_ID);
  opened.push(reader);
  return { reader, ids };
}

function appOf(exchanges: readonly Ex[], alerts?: AlertOptions) {
  const { reader, ids } = indexOf(exchanges);
  const app = createReviewApp({
    index: reader,
    logPublicKey: publicKey,
    tokenHashes: [createHash("sha256").update(TOKEN).digest("hex")],
    logSecret: SECRET,
    subjectIdPattern: /^[0-9]{11}$/,
    ...(alerts && { alerts }),
  });
  return { app, ids };
}

async function alertsOf(app: ReturnType<typeof appOf>["app"], query: string): Promise<AlertsJson> {
  const res = await app.request(`/v1/alerts?${query}`, { headers: AUTH });
  const body = (await res.json()) as AlertsJson & { error?: { message: string } };
  expect(res.status, body.error?.message).toBe(200);
  return body;
}

function citizen(n: number): string {
  return String(10_000_000_000 + n);
}

/** `n` allowed reads by one consumer of distinct citizens, one every `stepMs` from `start`. */
function reads(n: number, start: number, stepMs: number, consumer = EHR): Ex[] {
  return Array.from({ length: n }, (_, i) => ({
    time: Math.round(start + i * stepMs),
    consumer,
    subject: citizen(i),
  }));
}

function refusals(n: number, start: number, stepMs: number, decision = Decision.DENY, consumer = EHR): Ex[] {
  return Array.from({ length: n }, (_, i) => ({ time: Math.round(start + i * stepMs), consumer, decision }));
}

/** A window around office hours of a Wednesday, where only the rule under test can fire. */
const DAY_QUERY = `from=${WED}&to=${WED + 24 * HOUR}`;
const ONLY_BULK: AlertOptions = { offHours: false, denials: false };
const ONLY_DENIALS: AlertOptions = { offHours: false, bulkLookup: false };

describe("bulk_lookup", () => {
  it("fires at 100 distinct subjects within an hour, not at 99", async () => {
    const at = await alertsOf(appOf(reads(100, WED + 9 * HOUR, 30_000), ONLY_BULK).app, DAY_QUERY);
    expect(at.alerts).toHaveLength(1);
    expect(at.alerts[0]).toMatchObject({
      rule: "bulk_lookup",
      consumer: EHR,
      count: 100,
      first_at: WED + 9 * HOUR,
      last_at: WED + 9 * HOUR + 99 * 30_000,
    });
    expect(at.alerts[0]?.summary).toContain("100 distinct subjects");

    const below = await alertsOf(appOf(reads(99, WED + 9 * HOUR, 30_000), ONLY_BULK).app, DAY_QUERY);
    expect(below.alerts).toEqual([]);
  });

  it("counts distinct subjects, not reads: 99 citizens read twice each is no bulk lookup", async () => {
    const twice = [...reads(99, WED + 9 * HOUR, 10_000), ...reads(99, WED + 9 * HOUR + 5_000, 10_000)];
    const res = await alertsOf(appOf(twice, ONLY_BULK).app, DAY_QUERY);
    expect(res.alerts).toEqual([]);
  });

  it("catches a burst that straddles an hour boundary (10:30 to 11:29)", async () => {
    // 50 reads before 11:00 and 50 after: fixed hourly buckets would see 50 and 50.
    const { app } = appOf(reads(100, WED + 10.5 * HOUR, 35_000), ONLY_BULK);
    const res = await alertsOf(app, DAY_QUERY);
    expect(res.alerts).toHaveLength(1);
    expect(res.alerts[0]?.first_at).toBe(WED + 10.5 * HOUR);
    expect(res.alerts[0]?.count).toBe(100);
  });

  it("a window is less than an hour: 100 subjects spread over exactly one hour do not fire", async () => {
    const spread = reads(100, WED + 9 * HOUR, HOUR / 99);
    expect((spread.at(-1)?.time ?? 0) - (spread[0]?.time ?? 0)).toBe(HOUR);
    expect((await alertsOf(appOf(spread, ONLY_BULK).app, DAY_QUERY)).alerts).toEqual([]);
  });

  it("reads only allowed exchanges, per consumer", async () => {
    const mixed = reads(100, WED + 9 * HOUR, 10_000).map((e, i) =>
      i === 50 ? { ...e, decision: Decision.DENY } : i === 60 ? { ...e, consumer: TAX } : e,
    );
    expect((await alertsOf(appOf(mixed, ONLY_BULK).app, DAY_QUERY)).alerts).toEqual([]);
  });

  it("one sustained burst is one alert holding every exchange, and a later one is another", async () => {
    const burst = [...reads(150, WED + 9 * HOUR, 10_000), ...reads(100, WED + 15 * HOUR, 10_000)];
    const res = await alertsOf(appOf(burst, ONLY_BULK).app, DAY_QUERY);
    expect(res.alerts.map((a) => [a.first_at, a.count])).toEqual([
      [WED + 15 * HOUR, 100],
      [WED + 9 * HOUR, 150],
    ]);
    expect(res.alerts[1]?.summary).toContain("150 distinct subjects");
  });

  it("takes its threshold and window from the options", async () => {
    const { app } = appOf(reads(5, WED + 9 * HOUR, MIN), {
      ...ONLY_BULK,
      bulkLookup: { subjects: 5, windowMs: 5 * MIN },
    });
    expect((await alertsOf(app, DAY_QUERY)).alerts).toHaveLength(1);
    const { app: narrower } = appOf(reads(5, WED + 9 * HOUR, MIN), {
      ...ONLY_BULK,
      bulkLookup: { subjects: 5, windowMs: 4 * MIN },
    });
    expect((await alertsOf(narrower, DAY_QUERY)).alerts).toEqual([]);
  });
});

describe("denials", () => {
  it("fires at 10 refusals within 10 minutes, not at 9", async () => {
    const at = await alertsOf(appOf(refusals(10, WED + 9 * HOUR, MIN - 1), ONLY_DENIALS).app, DAY_QUERY);
    expect(at.alerts).toHaveLength(1);
    expect(at.alerts[0]).toMatchObject({ rule: "denials", consumer: EHR, count: 10 });
    expect(at.alerts[0]?.exchanges.every((e) => e.decision === "deny")).toBe(true);

    const below = await alertsOf(appOf(refusals(9, WED + 9 * HOUR, MIN - 1), ONLY_DENIALS).app, DAY_QUERY);
    expect(below.alerts).toEqual([]);
  });

  it("10 refusals spread over exactly 10 minutes do not fire", async () => {
    const spread = refusals(10, WED + 9 * HOUR, (10 * MIN) / 9);
    expect((await alertsOf(appOf(spread, ONLY_DENIALS).app, DAY_QUERY)).alerts).toEqual([]);
  });

  it("counts invalid as refused and ignores allowed exchanges between them", async () => {
    const nine = [
      ...refusals(5, WED + 9 * HOUR, 10_000),
      ...refusals(4, WED + 9 * HOUR + 60_000, 10_000, Decision.INVALID),
      ...reads(20, WED + 9 * HOUR + 1_000, 10_000),
    ];
    expect((await alertsOf(appOf(nine, ONLY_DENIALS).app, DAY_QUERY)).alerts).toEqual([]);

    const ten = [...nine, ...refusals(1, WED + 9 * HOUR + 120_000, 1, Decision.INVALID)];
    const res = await alertsOf(appOf(ten, ONLY_DENIALS).app, DAY_QUERY);
    expect(res.alerts).toHaveLength(1);
    expect(res.alerts[0]?.count).toBe(10);
    expect(new Set(res.alerts[0]?.exchanges.map((e) => e.decision))).toEqual(new Set(["deny", "invalid"]));
  });

  it("counts per consumer: five refusals each for two consumers is no alert", async () => {
    const two = [
      ...refusals(5, WED + 9 * HOUR, 10_000),
      ...refusals(5, WED + 9 * HOUR, 10_000, Decision.DENY, TAX),
    ];
    expect((await alertsOf(appOf(two, ONLY_DENIALS).app, DAY_QUERY)).alerts).toEqual([]);
  });
});

describe("off_hours", () => {
  const ONLY_OFF = (o: AlertOptions["offHours"] = {}): AlertOptions => ({
    bulkLookup: false,
    denials: false,
    offHours: o,
  });

  it("20:30 UTC on a Wednesday is off hours in UTC, but not in Denver where it is 14:30", async () => {
    const ex = [{ time: WED + 20.5 * HOUR }];
    const utc = await alertsOf(appOf(ex, ONLY_OFF()).app, DAY_QUERY);
    expect(utc.alerts).toHaveLength(1);
    expect(utc.alerts[0]).toMatchObject({ rule: "off_hours", consumer: EHR, count: 1 });
    expect(utc.alerts[0]?.summary).toContain("UTC");

    const denver = await alertsOf(appOf(ex, ONLY_OFF({ timeZone: "America/Denver" })).app, DAY_QUERY);
    expect(denver.alerts).toEqual([]);
  });

  it("03:00 UTC is 09:00 in Thimphu: office hours there, not in UTC", async () => {
    const ex = [{ time: WED + 3 * HOUR }];
    expect((await alertsOf(appOf(ex, ONLY_OFF()).app, DAY_QUERY)).alerts).toHaveLength(1);
    const thimphu = await alertsOf(appOf(ex, ONLY_OFF({ timeZone: "Asia/Thimphu" })).app, DAY_QUERY);
    expect(thimphu.alerts).toEqual([]);
  });

  it("office hours run from 07:00 up to 19:00 on weekdays; a Saturday is off hours", async () => {
    const times = [
      WED + 7 * HOUR - MIN, // 06:59: off
      WED + 7 * HOUR, // 07:00: in
      WED + 19 * HOUR - 1, // 18:59:59.999: in
      WED + 19 * HOUR, // 19:00: off
      SAT + 10 * HOUR, // Saturday 10:00: off
    ];
    const { app, ids } = appOf(
      times.map((time) => ({ time })),
      ONLY_OFF(),
    );
    const res = await alertsOf(app, `from=${WED}&to=${SAT + 24 * HOUR}`);
    expect(res.alerts).toHaveLength(1);
    expect(res.alerts[0]?.exchanges.map((e) => e.exchange_id)).toEqual([ids[0], ids[3], ids[4]]);
    expect(res.alerts[0]?.count).toBe(3);
  });

  it("groups per consumer, allowed exchanges only, and follows configured hours and days", async () => {
    const ex: Ex[] = [
      { time: WED + 22 * HOUR },
      { time: WED + 23 * HOUR },
      { time: WED + 22 * HOUR, consumer: TAX },
      { time: WED + 23 * HOUR, consumer: TAX, decision: Decision.DENY },
    ];
    const res = await alertsOf(appOf(ex, ONLY_OFF()).app, DAY_QUERY);
    expect(res.alerts.map((a) => [a.consumer, a.count])).toEqual([
      [EHR, 2],
      [TAX, 1],
    ]);

    const nightShift = await alertsOf(
      appOf(ex, ONLY_OFF({ start: "06:00", end: "24:00", days: ["Wed"] })).app,
      DAY_QUERY,
    );
    expect(nightShift.alerts).toEqual([]);
  });
});

describe("the answer", () => {
  it("caps the listed exchanges, keeps the real count, and says it truncated", async () => {
    const { app } = appOf(refusals(30, WED + 9 * HOUR, 1_000), {
      ...ONLY_DENIALS,
      maxExchangesPerAlert: 5,
    });
    const [a] = (await alertsOf(app, DAY_QUERY)).alerts;
    expect(a?.count).toBe(30);
    expect(a?.truncated).toBe(true);
    expect(a?.exchanges.map((e) => e.time)).toEqual([0, 1, 2, 3, 4].map((i) => WED + 9 * HOUR + i * 1_000));
    expect(Object.keys(a?.exchanges[0] ?? {}).sort()).toEqual([
      "decision",
      "exchange_id",
      "index",
      "service",
      "time",
    ]);
  });

  it("lists newest alerts first, keeps ids stable across windows, and filters by rule", async () => {
    const ex = [
      ...refusals(10, WED + 9 * HOUR, 1_000),
      ...refusals(10, WED + 12 * HOUR, 1_000, Decision.DENY, TAX),
      ...reads(100, WED + 14 * HOUR, 1_000),
      { time: WED + 21 * HOUR, consumer: TAX, subject: citizen(7) },
    ];
    const { app } = appOf(ex);
    const all = await alertsOf(app, DAY_QUERY);
    expect(all.complete).toBe(true);
    expect(all.alerts.map((a) => [a.rule, a.consumer])).toEqual([
      ["off_hours", TAX],
      ["bulk_lookup", EHR],
      ["denials", TAX],
      ["denials", EHR],
    ]);
    expect(new Set(all.alerts.map((a) => a.id)).size).toBe(4);
    for (const a of all.alerts) expect(a.id).toMatch(/^[0-9a-f]{16}$/);

    const wider = await alertsOf(app, `from=${WED - 5 * HOUR}&to=${WED + 30 * HOUR}`);
    expect(wider.alerts.map((a) => a.id)).toEqual(all.alerts.map((a) => a.id));

    const denials = await alertsOf(app, `${DAY_QUERY}&rule=denials`);
    expect(denials.alerts.map((a) => a.consumer)).toEqual([TAX, EHR]);
    expect(denials.alerts.map((a) => a.id)).toEqual(all.alerts.slice(2).map((a) => a.id));
  });

  it("takes ISO 8601 times, and defaults to the last 24 hours", async () => {
    const now = Date.now();
    const { app } = appOf([
      ...refusals(10, now - 25 * HOUR, 1_000, Decision.DENY, TAX),
      ...refusals(10, now - HOUR, 1_000),
    ]);
    const recent = await alertsOf(app, "rule=denials");
    expect(recent.to - recent.from).toBe(24 * HOUR);
    expect(Math.abs(recent.to - now)).toBeLessThan(60_000);
    expect(recent.alerts.map((a) => a.consumer)).toEqual([EHR]);

    const iso = await alertsOf(
      app,
      `rule=denials&from=${new Date(now - 26 * HOUR).toISOString()}&to=${new Date(now - 24 * HOUR).toISOString()}`,
    );
    expect(iso.from).toBe(now - 26 * HOUR);
    expect(iso.alerts.map((a) => a.consumer)).toEqual([TAX]);
  });

  it("reads at most maxScan exchanges and says where it stopped", async () => {
    const ex = refusals(80, WED + 9 * HOUR, 1_000);
    const { app } = appOf(ex, { ...ONLY_DENIALS, maxScan: 50 });
    const first = await alertsOf(app, DAY_QUERY);
    expect(first.complete).toBe(false);
    expect(first.scanned_to).toBe(WED + 9 * HOUR + 50 * 1_000);
    expect(first.alerts[0]?.count).toBe(50);

    const rest = await alertsOf(app, `from=${first.scanned_to}&to=${WED + 24 * HOUR}`);
    expect(rest.complete).toBe(true);
    expect(rest.alerts[0]?.count).toBe(30);
  });
});

describe("the request", () => {
  // Each test its own index: afterEach closes the readers.
  const appWithOne = () => appOf([{ time: WED + 9 * HOUR }]).app;

  it.each([
    ["from=yesterday", "from"],
    ["to=later", "to"],
    ["rule=weekends", "rule"],
    ["from=", "from"],
    [`from=${WED + HOUR}&to=${WED}`, "from"],
    [`from=${WED}&to=${WED + 32 * 24 * HOUR}`, "from"],
    ["consumer=spiffe://gov.bt/x", "consumer"],
    ["rule=denials&rule=off_hours", "rule"],
  ])("refuses %s with 400 naming %s", async (query, param) => {
    const res = await appWithOne().request(`/v1/alerts?${query}`, { headers: AUTH });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toContain(param);
  });

  it("accepts a window of exactly 31 days", async () => {
    const res = await appWithOne().request(`/v1/alerts?from=${WED}&to=${WED + 31 * 24 * HOUR}`, {
      headers: AUTH,
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as AlertsJson).alerts).toEqual([]);
  });

  it("refuses a rule the server turned off", async () => {
    const { app: noOff } = appOf([], { offHours: false });
    const res = await noOff.request("/v1/alerts?rule=off_hours", { headers: AUTH });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("off_hours");
    expect((await alertsOf(noOff, "")).rules).not.toHaveProperty("off_hours");
  });

  it("needs a reviewer token", async () => {
    const app = appWithOne();
    const none = await app.request("/v1/alerts");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    const wrong = await app.request("/v1/alerts", { headers: { authorization: `Bearer ${"x".repeat(32)}` } });
    expect(wrong.status).toBe(401);
  });

  it("refuses bad alert options when the app is built", () => {
    const base = {
      index: indexOf([]).reader,
      logPublicKey: publicKey,
      tokenHashes: [],
      logSecret: SECRET,
      subjectIdPattern: /^[0-9]{11}$/,
    };
    expect(() => createReviewApp({ ...base, alerts: { offHours: { timeZone: "Mars/Olympus" } } })).toThrow(
      /timeZone/,
    );
    expect(() =>
      createReviewApp({ ...base, alerts: { offHours: { start: "19:00", end: "07:00" } } }),
    ).toThrow(/start/);
    expect(() => createReviewApp({ ...base, alerts: { denials: { count: 0 } } })).toThrow(/denials.count/);
  });
});
