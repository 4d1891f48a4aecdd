import { generateKeyPairSync, randomBytes, randomUUID, sign } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Hono } from "hono";
import { beforeEach, describe, expect, it } from "vitest";
import { receiptSignedBytes } from "../core/log-format/index.js";
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
