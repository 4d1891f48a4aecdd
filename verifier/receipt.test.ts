import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Hono } from "hono";
import { beforeEach, describe, expect, it } from "vitest";
import { receiptSignedBytes } from "../core/log-format/index.js";
import { batchedToFields, signBatched } from "../core/signing/index.js";
import { type Receipt, ReceiptSchema } from "../proto/gen/xbus/v1/exchange_pb.js";
import { Decision } from "../proto/gen/xbus/v1/log_pb.js";
import { LOG_ID, rogueSigner, writeTestLogIndex } from "../test/helpers/log-index.js";
import { serveInSuite } from "../test/helpers/serve-in-suite.js";
import { checkReceipt } from "./receipt.js";
import { reviewClient, type TreeHeadJson } from "./review-client.js";

// The tree head `checkReceipt` proves a receipt's leaf against must be a signed head of the receipt's log,
// under the pinned key when one is given: a real index behind the review API, and a proxy that serves
// another head when a test says so.

const TOKEN = randomBytes(24).toString("base64url");
const COUNT = 9;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
const app = log.reviewApp({ token: TOKEN, logSecret: randomBytes(32) });
const LOG_KEY = log.keyBase64;
const broker = generateKeyPairSync("ed25519");
const rogue = rogueSigner();
const ROGUE_KEY = rogue.keyBase64;

let head: TreeHeadJson | undefined;
const proxy = new Hono();
proxy.get("/v1/log/tree-head", (c) => (head ? c.json(head) : app.fetch(c.req.raw)));
proxy.all("*", (c) => app.fetch(c.req.raw));
const server = serveInSuite(proxy, () => log.close());
beforeEach(() => {
  head = undefined;
});

/** The receipt the broker gave for leaf `index`, signed alone. */
function receiptFor(index: number): Receipt {
  const r = {
    logId: LOG_ID,
    leafIndex: BigInt(index),
    leafHash: log.reader.tree.leafHash(index),
    timestamp: 1_750_000_000_000n,
    brokerId: "broker-1",
  };
  const signed = receiptSignedBytes({ ...r, leafHash: r.leafHash.toString("hex") });
  return create(ReceiptSchema, { ...r, signature: sign(null, signed, broker.privateKey) });
}

const check = (logPublicKey?: string) =>
  checkReceipt(receiptFor(4), broker.publicKey, { client: reviewClient(server.url, TOKEN), logPublicKey });

describe("checkReceipt's tree head", () => {
  it("proves the leaf against the log's signed head, pinned or not", async () => {
    const included = {
      ok: true,
      batchSize: 0,
      includedIn: { treeSize: COUNT, rootHash: log.signedHead().root_hash },
    };
    expect(await check()).toEqual(included);
    expect(await check(LOG_KEY)).toEqual(included);
  });

  it("refuses a head of another log than the receipt's", async () => {
    head = log.signedHead({ logId: "another-log" });
    expect(await check(LOG_KEY)).toEqual({
      ok: false,
      problem: `the API's tree head is of log "another-log", but the receipt's is "${LOG_ID}"`,
    });
  });

  it("refuses a head under another key than the pinned one, even validly signed by it", async () => {
    head = log.signedHead({ signer: rogue.privateKey, publicKey: ROGUE_KEY });
    expect(await check(LOG_KEY)).toEqual({
      ok: false,
      problem: `the API's tree head names public key ${ROGUE_KEY}, but the pinned key is ${LOG_KEY}`,
    });
  });

  it("refuses a head whose signature does not verify with the key it names", async () => {
    head = log.signedHead({ signer: rogue.privateKey });
    expect(await check()).toEqual({
      ok: false,
      problem: `the API's tree head (size ${COUNT}): the signature does not verify with the key it names`,
    });
  });

  it("refuses an answer that is not a signed tree head, rather than fail on it", async () => {
    head = { ...log.signedHead(), public_key: "c2hvcnQ=" };
    expect(await check()).toEqual({
      ok: false,
      problem: "the API's tree head is not a signed tree head: public_key is not 32 bytes in base64",
    });
  });
});

describe("receipt formats: v2 names the exchange, v1 still verifies", () => {
  const exchangeId = "019a0000-0000-7000-8000-000000000001";
  const requestHash = createHash("sha256").update("the consumer's FetchRequest bytes").digest();
  const responseHash = createHash("sha256").update("the record bytes released").digest();
  const base = {
    logId: LOG_ID,
    leafIndex: 4n,
    leafHash: log.reader.tree.leafHash(4),
    timestamp: 1_750_000_000_000n,
    brokerId: "broker-1",
  };
  /** A receipt as the broker makes one now: xbus-receipt/v2, signed alone. */
  const v2 = (): Receipt => {
    const r = { ...base, exchangeId, requestHash, responseHash };
    const signed = receiptSignedBytes({ ...r, leafHash: r.leafHash.toString("hex") });
    return create(ReceiptSchema, { ...r, signature: sign(null, signed, broker.privateKey) });
  };

  it("signs the documented v2 bytes, which carry the exchange id and both hashes", () => {
    const r = v2();
    expect(receiptSignedBytes({ ...r, leafHash: Buffer.from(r.leafHash).toString("hex") }).toString()).toBe(
      `xbus-receipt/v2\n${LOG_ID}\n4\n${base.leafHash.toString("hex")}\n1750000000000\nbroker-1\n` +
        `${exchangeId}\n${requestHash.toString("hex")}\n${responseHash.toString("hex")}\n`,
    );
  });

  it("a v2 receipt verifies and names its exchange, offline and against the log", async () => {
    expect(await checkReceipt(v2(), broker.publicKey)).toEqual({ ok: true, batchSize: 0, exchangeId });
    expect(
      await checkReceipt(v2(), broker.publicKey, {
        client: reviewClient(server.url, TOKEN),
        logPublicKey: LOG_KEY,
      }),
    ).toMatchObject({ ok: true, exchangeId, includedIn: { treeSize: COUNT } });
  });

  it("changing the exchange id or either hash, or stripping them (a downgrade to v1), breaks the signature", async () => {
    const flipped = (b: Uint8Array) => Uint8Array.from(b, (x, i) => (i === 0 ? x ^ 1 : x));
    const tampered: Partial<Receipt>[] = [
      { exchangeId: "019a0000-0000-7000-8000-000000000002" },
      { requestHash: flipped(requestHash) },
      { responseHash: flipped(responseHash) },
      { responseHash: new Uint8Array() },
      { exchangeId: "", requestHash: new Uint8Array(), responseHash: new Uint8Array() },
    ];
    for (const t of tampered) {
      expect(await checkReceipt(create(ReceiptSchema, { ...v2(), ...t }), broker.publicKey)).toEqual({
        ok: false,
        problem: "the broker's signature over the receipt does not verify with this key",
      });
    }
  });

  it("refuses exchange fields no broker makes before it checks a signature", async () => {
    const cases: [Partial<Receipt>, string][] = [
      [{ exchangeId: "a\nb" }, "the receipt's exchange_id is empty, over 64 characters or not printable"],
      [{ exchangeId: "" }, "the receipt's exchange_id is empty, over 64 characters or not printable"],
      [{ requestHash: new Uint8Array(31) }, "the receipt's request_hash is not 32 bytes"],
      [{ responseHash: new Uint8Array(33) }, "the receipt's response_hash is neither empty nor 32 bytes"],
    ];
    for (const [t, problem] of cases) {
      expect(await checkReceipt(create(ReceiptSchema, { ...v2(), ...t }), broker.publicKey)).toEqual({
        ok: false,
        problem,
      });
    }
  });

  it("an old v1 receipt (signed over the v1 bytes, no exchange fields) still verifies; given exchange fields it does not", async () => {
    // The bytes brokers signed before receipts named their exchange, written out rather than built by today's code.
    const v1Bytes = Buffer.from(
      `xbus-receipt/v1\n${LOG_ID}\n4\n${base.leafHash.toString("hex")}\n1750000000000\nbroker-1\n`,
    );
    const old = create(ReceiptSchema, { ...base, signature: sign(null, v1Bytes, broker.privateKey) });
    expect(await checkReceipt(old, broker.publicKey)).toEqual({ ok: true, batchSize: 0 });
    const dressed = create(ReceiptSchema, { ...old, exchangeId, requestHash, responseHash });
    expect(await checkReceipt(dressed, broker.publicKey)).toMatchObject({ ok: false });
  });

  it("in a batch (batch_size != 0) the root covers the v2 bytes: each receipt verifies, a changed one does not", async () => {
    const made = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const r = {
          ...base,
          leafIndex: BigInt(i),
          exchangeId: `${exchangeId.slice(0, -1)}${i}`,
          requestHash,
          responseHash,
        };
        const signed = receiptSignedBytes({ ...r, leafHash: r.leafHash.toString("hex") });
        return create(ReceiptSchema, {
          ...r,
          ...batchedToFields(await signBatched(signed, broker.privateKey)),
        });
      }),
    );
    expect(made.every((r) => r.batchSize === 5)).toBe(true);
    for (const r of made) {
      expect(await checkReceipt(r, broker.publicKey)).toEqual({
        ok: true,
        batchSize: 5,
        exchangeId: r.exchangeId,
      });
      const other = create(ReceiptSchema, {
        ...r,
        exchangeId: made[(Number(r.leafIndex) + 1) % 5]?.exchangeId ?? "x",
      });
      expect(await checkReceipt(other, broker.publicKey)).toMatchObject({ ok: false });
      const noResponse = create(ReceiptSchema, { ...r, responseHash: new Uint8Array() });
      expect(await checkReceipt(noResponse, broker.publicKey)).toMatchObject({ ok: false });
    }
  });
});
