import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterEach, beforeEach, expect, it } from "vitest";
import { createLogger } from "../../core/index.js";
import { Decision, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import { LogIndex } from "../indexer/log-index.js";
import { subjectRef } from "../log/subject-ref.js";
import { type AccessNotice, createAccessNotifier, type NoticeSink } from "./notifier.js";
import { type NotifyStore, openNotifyStore } from "./notify-store.js";

// The notifier over a real index and store: a notice per access when it becomes visible to an
// opted-in citizen, covert ones only when their embargo ends, each once, across a restart too.

const SECRET = randomBytes(32);
const ALICE = subjectRef(SECRET, "10000000001");
const BOB = subjectRef(SECRET, "10000000002");
const T0 = Date.UTC(2027, 0, 1);
const DAY = 86_400_000;

let dir: string;
let index: LogIndex;
let store: NotifyStore;
let seq: number;
let now: number;
const quiet = createLogger({}, "error", () => {});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "xbus-notify-"));
  index = new LogIndex(join(dir, "index.sqlite"), "xbus-test-log", generateKeyPairSync("ed25519").privateKey);
  store = openNotifyStore(join(dir, "notify.sqlite"));
  seq = 0;
  now = T0;
});
afterEach(() => {
  index.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function append(ref: string, discloseAfter = 0): number {
  const r = create(ExchangeRecordSchema, {
    exchangeId: randomUUID(),
    time: BigInt(now),
    consumer: "spiffe://gov.bt/agency/moe/system/scholarships",
    subjectRef: ref,
    decision: Decision.ALLOW,
    status: "OK",
    discloseAfter: BigInt(discloseAfter),
  });
  index.appendBatch([{ seq: ++seq, leaf: toBinary(ExchangeRecordSchema, r) }]);
  return seq - 1;
}

function notifier(sink: NoticeSink, batch?: number) {
  return createAccessNotifier({
    index,
    store,
    sinks: [sink],
    now: () => now,
    logger: quiet,
    ...(batch ? { batch } : {}),
  });
}
const collect = () => {
  const got: AccessNotice[] = [];
  return { got, sink: { name: "memory", send: async (n: AccessNotice) => void got.push(n) } };
};

it("tells of new accesses to opted-in citizens only, and nothing from before it started", async () => {
  append(ALICE); // before the notifier: already on the page, not news
  store.set(ALICE, true);
  const { got, sink } = collect();
  const n = notifier(sink);
  const a = append(ALICE);
  append(BOB);
  expect(await n.poll()).toBe(1);
  expect(got).toEqual([{ subject_ref: ALICE, index: a, visible_at: T0, reason: "exchange" }]);
  expect(await n.poll()).toBe(0);
});

it("tells of a covert access only when its embargo ends, at its original index", async () => {
  store.set(ALICE, true);
  const { got, sink } = collect();
  const n = notifier(sink);
  const covert = append(ALICE, T0 + 90 * DAY);
  await n.poll();
  now = T0 + 89 * DAY;
  await n.poll();
  expect(got).toEqual([]);
  now = T0 + 91 * DAY;
  await n.poll();
  await n.poll();
  expect(got).toEqual([
    { subject_ref: ALICE, index: covert, visible_at: T0 + 90 * DAY, reason: "disclosed" },
  ]);
});

it("picks up where it stopped after a restart, and counts a sink's failures without stopping", async () => {
  store.set(ALICE, true);
  const first = collect();
  await notifier(first.sink).poll();
  const a = append(ALICE);
  const covert = append(ALICE, T0 + DAY);
  now = T0 + 2 * DAY; // the embargo ends while no notifier runs
  const second = collect();
  const failing = { name: "down", send: async () => Promise.reject(new Error("portal down")) };
  const n = createAccessNotifier({
    index,
    store,
    sinks: [failing, second.sink],
    now: () => now,
    logger: quiet,
  });
  await n.poll();
  expect(second.got.map((g) => [g.index, g.reason])).toEqual([
    [a, "exchange"],
    [covert, "exchange"],
  ]);
  expect(n.failures).toBe(2);
  expect(first.got).toEqual([]);
});

it("works a backlog off over several polls without losing or repeating one", async () => {
  store.set(ALICE, true);
  const { got, sink } = collect();
  const n = notifier(sink, 2);
  const all = [append(ALICE), append(ALICE, T0 + DAY), append(ALICE), append(ALICE), append(ALICE)];
  for (let i = 0; i < 4; i++) await n.poll();
  now = T0 + DAY;
  await n.poll();
  expect(got.map((g) => g.index).sort()).toEqual([...all].sort());
  expect(new Set(got.map((g) => g.index)).size).toBe(all.length);
});

it("refuses to store what is not a subject reference", () => {
  expect(() => store.set("10000000001", true)).toThrow("64 lowercase hex");
});
