import { createHash } from "node:crypto";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOG_STREAM } from "../../broker/index.js";
import { leafHash } from "../../core/log-format/index.js";
import { callEncoded } from "../../core/rpc/index.js";
import {
  Exchange,
  type FetchRequest,
  FetchRequestSchema,
  type FetchResponse,
  type Receipt,
  ReceiptSchema,
} from "../../proto/gen/xbus/v1/exchange_pb.js";
import { Decision, type ExchangeRecord, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import { checkReceipt } from "../../verifier/index.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";

// Issue 19 against the real stack (nats-server, TLS, gRPC, the broker's batch signer):
// - finding 8: a receipt did not name its exchange. Now it signs (xbus-receipt/v2) the exchange id, the SHA-256 of
//   the request as the broker received it and of the record it released; a consumer recomputes both from what it
//   sent and got.
// - finding 7: a Fetch whose bytes did not decode failed inside grpc-js, before the broker's handler, and never
//   reached the log. Now the handler decodes: such a request, like one that decodes to invalid fields, is answered
//   INVALID_ARGUMENT naming what was wrong and logged as INVALID with the SHA-256 of its bytes and the caller's
//   identity (never the bytes), folded per identity past 20 a window.

const SERVICE = "dcrc.citizen-record";
const PURPOSE = "scholarship-eligibility";
let stack: TestStack;
let nc: NatsConnection;
beforeAll(async () => {
  stack = await startTestStack();
  nc = await stack.natsConnect(stack.brokerCert);
});
afterAll(async () => {
  await nc?.close();
  await stack?.close();
});

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest();
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const sha256Hex = (b: Uint8Array) => hex(sha256(b));

/** The leaf a receipt names, as stored in the log stream. */
async function leafOf(r: Receipt): Promise<{ bytes: Uint8Array; record: ExchangeRecord }> {
  const jsm = await jetstreamManager(nc);
  const m = await jsm.streams.getMessage(LOG_STREAM, { seq: Number(r.leafIndex) + 1 });
  if (!m) throw new Error(`no log entry at leaf ${r.leafIndex}`);
  return { bytes: m.data, record: fromBinary(ExchangeRecordSchema, m.data) };
}

/** What the consumer sent: the client encodes exactly this (core/rpc, toBinary of the request). */
const sentBytes = (req: MessageInitShape<typeof FetchRequestSchema>) =>
  toBinary(FetchRequestSchema, create(FetchRequestSchema, req));

/** The answer's receipt names its exchange, the request sent and the record received, and verifies. */
async function expectNamesItsExchange(
  req: MessageInitShape<typeof FetchRequestSchema>,
  res: FetchResponse,
): Promise<Receipt> {
  const r = res.receipt as Receipt;
  expect(r.exchangeId).toBe(res.exchangeId);
  expect(hex(r.requestHash)).toBe(sha256Hex(sentBytes(req)));
  expect(hex(r.responseHash)).toBe(sha256Hex(res.record?.value ?? new Uint8Array(1)));
  expect(await checkReceipt(r, stack.brokerPublicKey)).toEqual({
    ok: true,
    batchSize: r.batchSize,
    exchangeId: res.exchangeId,
  });
  return r;
}

describe("a receipt names its exchange (xbus-receipt/v2)", () => {
  it("carries the exchange id and the request and response hashes the consumer recomputes, as logged", async () => {
    const req = {
      service: SERVICE,
      subjectId: stack.population.citizens[0]?.id ?? "",
      purpose: PURPOSE,
      requestId: "receipt-names-1",
    };
    const res = await stack.client().fetch(req, deadline());
    const r = await expectNamesItsExchange(req, res);

    const { bytes, record } = await leafOf(r);
    expect(hex(leafHash(bytes))).toBe(hex(r.leafHash));
    expect(record.exchangeId).toBe(r.exchangeId);
    expect(record.requestHash).toBe(hex(r.requestHash));
    expect(record.responseHash).toBe(hex(r.responseHash));

    for (const t of [
      { exchangeId: `${r.exchangeId.slice(0, -1)}${r.exchangeId.endsWith("0") ? "1" : "0"}` },
      { requestHash: sha256(sentBytes({ ...req, requestId: "receipt-names-2" })) },
      { responseHash: sha256(new Uint8Array([1])) },
    ]) {
      expect(await checkReceipt(create(ReceiptSchema, { ...r, ...t }), stack.brokerPublicKey)).toMatchObject({
        ok: false,
      });
    }
  });

  it("an error's receipt names its exchange and request, and no response", async () => {
    const req = { service: SERVICE, subjectId: "12", purpose: PURPOSE };
    const err = await failure(stack.client().fetch(req, deadline()));
    const bin = err.metadata.get("xbus-receipt-bin")[0];
    if (!(bin instanceof Buffer)) throw new Error("the error carries no receipt");
    const r = fromBinary(ReceiptSchema, bin);
    expect(r.exchangeId).toBe(err.metadata.get("xbus-exchange-id")[0]);
    expect(hex(r.requestHash)).toBe(hex(sha256(sentBytes(req))));
    expect(r.responseHash.length).toBe(0);
    expect(await checkReceipt(r, stack.brokerPublicKey)).toMatchObject({
      ok: true,
      exchangeId: r.exchangeId,
    });
  });

  it("under load, batched receipts (batch_size != 0) cover the v2 bytes of each", async () => {
    const reqs = Array.from({ length: 48 }, (_, i) => ({
      service: SERVICE,
      subjectId: stack.population.citizens[1]?.id ?? "",
      purpose: PURPOSE,
      requestId: `receipt-batch-${i}`,
    }));
    const client = stack.client();
    const results = await Promise.all(reqs.map((req) => client.fetch(req, deadline(15_000))));
    const batched = results.filter((res) => (res.receipt?.batchSize ?? 0) >= 2);
    expect(batched.length).toBeGreaterThan(0);
    for (const [i, res] of results.entries()) await expectNamesItsExchange(reqs[i] as FetchRequest, res);
    // Another exchange's id under a batched receipt's proof does not verify.
    const [a, b] = batched as [(typeof results)[0], (typeof results)[0]];
    const swapped = create(ReceiptSchema, { ...(a.receipt as Receipt), exchangeId: b?.exchangeId ?? "x" });
    expect(await checkReceipt(swapped, stack.brokerPublicKey)).toMatchObject({ ok: false });
  });
});

/** Sends `bytes` as the Fetch request, as they are (grpc-js with a passthrough serializer). */
function sendRaw(bytes: Uint8Array, identity: { cert: string; key: string } = stack.consumer) {
  return failure(callEncoded(stack.client(identity), Exchange.method.fetch, bytes, deadline()));
}

function receiptOf(err: { metadata: { get(k: string): unknown[] } }): Receipt | undefined {
  const bin = err.metadata.get("xbus-receipt-bin")[0];
  return bin instanceof Buffer ? fromBinary(ReceiptSchema, bin) : undefined;
}

const streamMessages = async () =>
  (await (await jetstreamManager(nc)).streams.info(LOG_STREAM)).state.messages;

/** Sends a request that must be refused and logged as INVALID; gives the error and the log entry. */
async function refusedAndLogged(bytes: Uint8Array, reason: string) {
  const err = await sendRaw(bytes);
  expect(err.code).toBe(status.INVALID_ARGUMENT);
  expect(err.reason).toBe(reason);
  const receipt = receiptOf(err);
  if (!receipt) throw new Error("the refusal carries no receipt");
  expect(await checkReceipt(receipt, stack.brokerPublicKey)).toMatchObject({ ok: true });
  const exchangeId = err.metadata.get("xbus-exchange-id")[0];
  expect(receipt.exchangeId).toBe(exchangeId);
  expect(Buffer.from(receipt.requestHash).toString("hex")).toBe(sha256Hex(bytes));
  const entry = await leafOf(receipt);
  expect(entry.record).toMatchObject({
    exchangeId,
    decision: Decision.INVALID,
    status: reason,
    consumer: stack.consumer.spiffeId,
    requestHash: sha256Hex(bytes),
    responseHash: "",
    foldedCount: 0,
  });
  return { err, entry };
}

describe("malformed and invalid Fetch requests are answered and logged as INVALID (issue 19)", () => {
  it("garbage bytes: MALFORMED_REQUEST naming the decoder's problem, logged by hash, never the bytes", async () => {
    const garbage = Buffer.from(
      "GET /admin HTTP/1.1\r\nHost: broker\r\n\r\n\u00ff\u00fe not protobuf",
      "latin1",
    );
    const { err, entry } = await refusedAndLogged(garbage, "MALFORMED_REQUEST");
    expect(err.details).toMatch(
      /^MALFORMED_REQUEST: the request does not decode as an xbus\.v1\.FetchRequest \(.+\)/,
    );
    expect(Buffer.from(entry.bytes).includes(Buffer.from("GET /admin"))).toBe(false);
    expect(entry.record.service).toBe("");
  });

  it("framing that decodes but a string that is not UTF-8: MALFORMED_REQUEST, logged", async () => {
    // Field 1 (service), length 2, bytes that are no UTF-8.
    const { err } = await refusedAndLogged(Uint8Array.of(0x0a, 0x02, 0xff, 0xfe), "MALFORMED_REQUEST");
    expect(err.details).toMatch(/utf-8/i);
  });

  it("a well-formed request with an invalid field: the field named, logged as INVALID with the request's hash", async () => {
    const bytes = sentBytes({ service: "dcrc.>", subjectId: "10000000001", purpose: PURPOSE });
    const { err, entry } = await refusedAndLogged(bytes, "INVALID_SERVICE");
    expect(err.reason).toBe("INVALID_SERVICE");
    expect(err.field).toBe("service");
    expect(entry.record.service).toBe("dcrc.>");
  });

  it("a request over 64 KiB is refused by grpc-js before it is read: RESOURCE_EXHAUSTED, and not logged", async () => {
    const before = await streamMessages();
    const err = await sendRaw(sentBytes({ service: SERVICE, requestId: "x".repeat(70 * 1024) }));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(receiptOf(err)).toBeUndefined();
    expect(await streamMessages()).toBe(before);
  });

  it("a flood of garbage from one identity is folded past 20 a window; the broker keeps serving", async () => {
    const flooder = stack.issue("malformed-flood", {
      spiffeId: "spiffe://gov.bt/agency/moe/system/flood",
      commonName: "moe",
      usage: "client",
    });
    const before = await streamMessages();
    const answers = [];
    for (let i = 0; i < 26; i++)
      answers.push(await sendRaw(Buffer.from(`junk ${i} \u00ff`, "latin1"), flooder));
    expect(answers.map((e) => e.reason)).toEqual(Array(26).fill("MALFORMED_REQUEST"));
    // The first 20 of the window are logged one by one, each with its receipt; the rest only counted.
    expect(answers.map((e) => receiptOf(e) !== undefined)).toEqual([
      ...Array(20).fill(true),
      ...Array(6).fill(false),
    ]);
    expect(await streamMessages()).toBe(before + 20);
    const logged = await Promise.all(answers.slice(0, 20).map((e) => leafOf(receiptOf(e) as Receipt)));
    expect(new Set(logged.map((l) => l.record.consumer))).toEqual(
      new Set(["spiffe://gov.bt/agency/moe/system/flood"]),
    );
    expect(logged.map((l) => l.record.requestHash)).toEqual(
      Array.from({ length: 20 }, (_, i) => sha256Hex(Buffer.from(`junk ${i} \u00ff`, "latin1"))),
    );

    const res = await stack
      .client()
      .fetch(
        { service: SERVICE, subjectId: stack.population.citizens[0]?.id ?? "", purpose: PURPOSE },
        deadline(),
      );
    expect(res.releasedFields.length).toBeGreaterThan(0);
    expect(await checkReceipt(res.receipt as Receipt, stack.brokerPublicKey)).toMatchObject({ ok: true });
  });
});
