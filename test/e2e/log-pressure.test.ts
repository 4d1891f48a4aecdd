import { generateKeyPairSync } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import type { ExchangeOutcome } from "../../broker/exchange/outcome.js";
import {
  type ExchangeLog,
  type ExchangeLogOptions,
  LOG_STREAM,
  openExchangeLog,
  toRecord,
} from "../../broker/log/jetstream-log.js";
import { TRUNCATED_MARKER } from "../../broker/log/record-bounds.js";
import { createLogger, uuidv7, XbusError } from "../../core/index.js";
import type { LogMetrics } from "../../core/telemetry/index.js";
import { type ExchangeRecord, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import { ProviderSignatureSchema } from "../../proto/gen/xbus/v1/route_pb.js";
import { publishLogRecords, useLogStream } from "../helpers/log-stream.js";

// Issue 19, finding 2: one oversized record poisoned the log's retry queue. Real nats-server, real JetStream.
const suite = useLogStream("xbus-log-pressure-");
const MB = 1024 * 1024;
const lines: Record<string, unknown>[] = [];
const logger = createLogger({}, "info", (l) => void lines.push(JSON.parse(l) as Record<string, unknown>));

function outcome(over: Partial<ExchangeOutcome> = {}): ExchangeOutcome {
  return {
    exchangeId: uuidv7(),
    startedAt: Date.now(),
    consumer: "spiffe://gov.bt/agency/moe/system/scholarships",
    certSerial: "0A",
    service: "dcrc.citizen-record",
    subjectId: "10000000001",
    purpose: "scholarship-eligibility",
    consentId: "",
    requestId: "",
    decision: "error",
    matchedGrants: ["moe-scholarships"],
    bundleHash: "",
    fieldsRequested: [],
    fieldsReleased: [],
    fieldsWithheld: [],
    status: "PROVIDER_ERROR",
    reasonText: "the provider failed",
    requestHash: "",
    responseHash: "",
    traceId: "",
    latencyMs: 1,
    ...over,
  };
}

function recordingMetrics() {
  const dead: string[] = [];
  const folded = { n: 0 };
  const stream: { read?: () => { bytes: number; maxBytes: number } | undefined } = {};
  const m: LogMetrics = {
    deadLetter: (r) => void dead.push(r),
    folded: (n) => {
      folded.n += n;
    },
    watchRetryQueue: () => {},
    watchStream: (read) => {
      stream.read = read;
    },
  };
  return { m, dead, folded, stream };
}

/** Polls f every 50 ms until it gives a truthy value; fails naming `what` after 15 s. */
async function until<T>(what: string, f: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + 15_000;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function openLog(over: Partial<ExchangeLogOptions> = {}) {
  const { m, dead, folded, stream } = recordingMetrics();
  const log = await openExchangeLog({
    nats: suite.nc,
    logId: "test/log",
    brokerId: "b1",
    logSecret: new Uint8Array(32),
    signingKey: generateKeyPairSync("ed25519").privateKey,
    ackTimeoutMs: 2000,
    metrics: m,
    logger,
    ...over,
  });
  logs.push(log);
  return { log, dead, folded, stream };
}
const logs: ExchangeLog[] = [];
afterAll(() => {
  for (const l of logs) l.close();
});

/** The records in the stream, by exchange id. */
async function stored(): Promise<Map<string, ExchangeRecord>> {
  const jsm = await jetstreamManager(suite.nc);
  const info = await jsm.streams.info(LOG_STREAM);
  const out = new Map<string, ExchangeRecord>();
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
    const m = await jsm.streams.getMessage(LOG_STREAM, { seq });
    if (!m) continue;
    const r = fromBinary(ExchangeRecordSchema, m.data);
    out.set(r.exchangeId, r);
  }
  return out;
}

/** Sets stream limits as an operator would; `null` lifts one (-1). */
async function limits(l: { max_msgs?: number; max_msg_size?: number }) {
  const jsm = await jetstreamManager(suite.nc);
  const info = await jsm.streams.info(LOG_STREAM);
  await jsm.streams.update(LOG_STREAM, { ...info.config, ...l });
}

/** The stream refuses any new record (max_msgs reached, discard new) until `limits({max_msgs: -1})`. */
async function fillStream() {
  const jsm = await jetstreamManager(suite.nc);
  if ((await jsm.streams.info(LOG_STREAM)).state.messages === 0) await publishLogRecords(suite.nc, 1);
  await limits({ max_msgs: (await jsm.streams.info(LOG_STREAM)).state.messages });
}

/** A provider that answers with 1 MB of error text and a 1 MB "signature". */
const hostile = () =>
  outcome({
    reasonText: `the provider said: ${"<b>1xxxxxxxxxx</b>".repeat(MB / 18)}`,
    providerSignature: create(ProviderSignatureSchema, {
      signer: "spiffe://gov.bt/agency/dcrc/connector/c1",
      signature: new Uint8Array(MB),
    }),
  });

describe("oversized records never poison the log (issue 19, finding 2)", () => {
  it("a 1 MB provider error and signature are cut, marked, and appended", async () => {
    const { log } = await openLog();
    const o = hostile();
    const receipt = await log.record(o);
    expect(receipt?.leafIndex).toBeGreaterThanOrEqual(0n);
    const r = (await stored()).get(o.exchangeId);
    expect(r?.reason.endsWith(TRUNCATED_MARKER)).toBe(true);
    expect(r?.reason.length).toBeLessThanOrEqual(1024);
    expect(r?.providerSignature).toBeUndefined();
    expect(r?.truncated).toEqual(["reason", "provider_signature"]);
  });

  it("after a log outage the queue drains: the 1 MB error's record and a later failed record are both appended", async () => {
    const { log } = await openLog();
    await fillStream();
    const big = hostile();
    const later = outcome();
    for (const o of [big, later]) {
      const err = await log.record(o, { retryLater: true }).catch((e: unknown) => e);
      expect(XbusError.from(err).reason).toBe("LOG_UNAVAILABLE");
    }
    await limits({ max_msgs: -1 });
    const all = await until("both records appended", async () => {
      const s = await stored();
      return s.has(big.exchangeId) && s.has(later.exchangeId) ? s : undefined;
    });
    expect(all.get(big.exchangeId)?.truncated).toContain("reason");
  });

  it("a record JetStream refuses for good is dead-lettered and the drain goes past it", async () => {
    const { log, dead } = await openLog();
    await fillStream();
    // Larger than the limit set below, after its bounds; the one behind it is not.
    const refused = outcome({ reasonText: "x".repeat(1000) });
    const later = outcome({ reasonText: "short" });
    for (const o of [refused, later]) await log.record(o, { retryLater: true }).catch(() => undefined);
    await limits({ max_msgs: -1, max_msg_size: 900 });
    try {
      await until("the later record appended", async () => (await stored()).has(later.exchangeId));
      expect((await stored()).has(refused.exchangeId)).toBe(false);
      expect(dead).toEqual(["refused"]);
      expect(lines.some((l) => l.exchange_id === refused.exchangeId && l.reason === "refused")).toBe(true);
    } finally {
      await limits({ max_msg_size: -1 });
    }
  });

  it("the retry queue is bounded in bytes: when full, new exchanges fail closed and overflow is dead-lettered", async () => {
    const denied = () => outcome({ decision: "deny", status: "POLICY_DENIED", reasonText: "n".repeat(1000) });
    const size = toBinary(ExchangeRecordSchema, toRecord(denied(), "b1", new Uint8Array(32))).length;
    // Room for two records, not for two and one of the largest size.
    const { log, dead } = await openLog({ retryQueueBytes: 2 * size + 100, maxRecordBytes: size + 200 });
    await fillStream();
    try {
      expect(() => log.admit?.()).not.toThrow();
      await log.record(denied(), { retryLater: true }).catch(() => undefined);
      // No room for one more record of the largest size: no new exchange starts.
      let refusal: unknown;
      try {
        log.admit?.();
      } catch (err) {
        refusal = err;
      }
      expect(XbusError.from(refusal).reason).toBe("LOG_UNAVAILABLE");
      expect(XbusError.from(refusal).message).toMatch(/exchange log is behind/);
      // Denials and invalid requests are recorded before admit: these fill the queue to its bound.
      await log.record(denied(), { retryLater: true }).catch(() => undefined);
      expect(dead).toEqual([]);
      await log.record(denied(), { retryLater: true }).catch(() => undefined);
      expect(dead).toEqual(["queue_full"]);
    } finally {
      await limits({ max_msgs: -1 });
    }
    await until("the queue drained and admits again", async () => {
      try {
        log.admit?.();
        return true;
      } catch {
        return false;
      }
    });
  });
});

describe("the log cannot be flooded (issue 19, finding 5)", () => {
  it("folds refused attempts per identity and status past the window's budget into one counted record", async () => {
    const { log, folded } = await openLog({ fold: { windowMs: 60_000, logFirst: 3 } });
    const flooder = "spiffe://gov.bt/agency/moh/system/ehr";
    const deny = (consumer: string) =>
      outcome({ consumer, decision: "deny", status: "POLICY_DENIED", reasonText: "no grant" });
    const receipts = [];
    for (let i = 0; i < 10; i++) receipts.push(await log.record(deny(flooder)));
    expect(receipts.filter((r) => r !== undefined)).toHaveLength(3);
    expect(folded.n).toBe(7);
    // Another identity, and another status of the same identity, have budgets of their own.
    expect(await log.record(deny("spiffe://gov.bt/agency/rsta/system/licensing"))).toBeDefined();
    expect(
      await log.record(outcome({ consumer: flooder, decision: "invalid", status: "INVALID_SUBJECT_ID" })),
    ).toBeDefined();
    // Allowed and failed exchanges are never folded.
    expect(await log.record(outcome({ consumer: flooder }))).toBeDefined();
    await log.flushFolds(true);
    const summaries = [...(await stored()).values()].filter((r) => r.foldedCount > 0);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      consumer: flooder,
      status: "POLICY_DENIED",
      foldedCount: 7,
      foldedWindowMs: 60_000,
      service: "dcrc.citizen-record",
    });
  });
});

const small = useLogStream("xbus-log-full-");

describe("the log stream is bounded (issue 19, finding 5)", () => {
  it("has max_bytes, warns from 80%, and fails closed with LOG_UNAVAILABLE naming a full log", async () => {
    const { log, stream } = await openLog({ nats: small.nc, maxStreamBytes: 16 * 1024, fold: false });
    const jsm = await jetstreamManager(small.nc);
    expect((await jsm.streams.info(LOG_STREAM)).config.max_bytes).toBe(16 * 1024);
    let refusal: unknown;
    for (let i = 0; i < 200 && refusal === undefined; i++) {
      await log.record(outcome({ status: "OK", decision: "allow" })).catch((err: unknown) => {
        refusal = err;
      });
    }
    expect(XbusError.from(refusal).reason).toBe("LOG_UNAVAILABLE");
    expect(XbusError.from(refusal).message).toMatch(/exchange log is full/);
    const use = await log.checkStream();
    expect(use.bytes / use.maxBytes).toBeGreaterThanOrEqual(0.8);
    expect(stream.read?.()).toEqual(use);
    expect(lines.some((l) => l.level === "warn" && /over 80% of its max_bytes/.test(String(l.msg)))).toBe(
      true,
    );
    expect(lines.some((l) => /the log stream is full/.test(String(l.msg)))).toBe(true);
  });
});
