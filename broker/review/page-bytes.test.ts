import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../../test/helpers/log-index.js";
import { subjectRef } from "../log/subject-ref.js";
import { PAGE_BYTES } from "./record-json.js";

/*
 * A page is bounded in bytes as well as in rows (issue 19, finding 5: one page of bloated entries was
 * 11 MB of JSON). The log holds records written before records were bounded, so the index here holds
 * records with 100 KB reasons and one with a reason larger than a page.
 */
const TOKEN = "page-bytes-test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const SECRET = randomBytes(32);
const CITIZEN = "10000000001";
const COUNT = 30;
const HUGE_AT = 12;

const ids = Array.from({ length: COUNT }, () => randomUUID());
const log = writeTestLogIndex(
  ids.map((exchangeId, i) => ({
    exchangeId,
    time: BigInt(Date.UTC(2025, 6, 9) + i * 60_000),
    consumer: "spiffe://gov.bt/agency/moh/system/ehr",
    service: "dcrc.citizen-record",
    subjectRef: subjectRef(SECRET, CITIZEN),
    purpose: "treatment",
    decision: Decision.DENY,
    status: "PROVIDER_ERROR",
    reason: "x".repeat(i === HUGE_AT ? PAGE_BYTES + 1000 : 100_000),
  })),
);
afterAll(() => log.close());
const app = log.reviewApp({ token: TOKEN, logSecret: SECRET });

interface Page {
  exchanges: { index: number; record: { exchange_id: string } | null; too_large?: { exchange_id: string } }[];
  next_cursor: string | null;
}

async function pages(): Promise<{ sizes: number[]; pages: Page[] }> {
  const sizes: number[] = [];
  const out: Page[] = [];
  let cursor: string | null = "";
  while (cursor !== null) {
    expect(out.length, "next_cursor never ends").toBeLessThan(COUNT);
    const res = await app.request(`/v1/exchanges?limit=1000${cursor ? `&cursor=${cursor}` : ""}`, {
      headers: AUTH,
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    sizes.push(Buffer.byteLength(text));
    const page = JSON.parse(text) as Page;
    out.push(page);
    cursor = page.next_cursor;
  }
  return { sizes, pages: out };
}

describe("a page of /v1/exchanges", () => {
  it("stays within PAGE_BYTES and still lists every exchange once, newest first, across pages", async () => {
    const { sizes, pages: all } = await pages();
    expect(all.length).toBeGreaterThan(2);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(PAGE_BYTES);
    const listed = all.flatMap((p) =>
      p.exchanges.map((e) => e.record?.exchange_id ?? e.too_large?.exchange_id),
    );
    expect(listed).toEqual([...ids].reverse());
  });

  it("names an entry larger than a page instead of sending it, and it is still read on its own", async () => {
    const { pages: all } = await pages();
    const huge = all.flatMap((p) => p.exchanges).find((e) => e.index === HUGE_AT);
    expect(huge).toMatchObject({ record: null, too_large: { exchange_id: ids[HUGE_AT] } });
    const one = await app.request(`/v1/exchanges/${ids[HUGE_AT]}`, { headers: AUTH });
    expect(one.status).toBe(200);
  });

  it("bounds a citizen's accesses the same way", async () => {
    const res = await app.request(`/v1/subjects/${CITIZEN}/accesses?limit=1000`, { headers: AUTH });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(PAGE_BYTES);
    expect((JSON.parse(text) as { accesses: unknown[] }).accesses).toHaveLength(COUNT);
  });
});
