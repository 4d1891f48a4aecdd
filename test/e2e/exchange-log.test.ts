import { spawnSync } from "node:child_process";
import { createHash, createPrivateKey } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import { Metadata, status } from "@grpc/grpc-js";
import { DiscardPolicy, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOG_STREAM, LogIndex, LogIndexReader } from "../../broker/index.js";
import { receiptSignedBytes } from "../../core/log-format/index.js";
import { batchedFromFields, verifyBatchedSignature, verifyReply } from "../../core/signing/index.js";
import {
  FetchRequestSchema,
  FetchResponseSchema,
  type Receipt,
  ReceiptSchema,
} from "../../proto/gen/xbus/v1/exchange_pb.js";
import {
  checkReceipt,
  type ExportLine,
  exportLog,
  reviewClient,
  type TreeHeadJson,
  verifyConsistency,
  verifyExport,
  verifyInclusion,
} from "../../verifier/index.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";
import { runXbusAsync } from "../helpers/xbus-process.js";

const SERVICE = "dcrc.citizen-record";
const PURPOSE = "scholarship-eligibility";
let stack: TestStack;
let nc: NatsConnection;
const tmp = mkdtempSync(join(tmpdir(), "xbus-log-test-"));

beforeAll(async () => {
  stack = await startTestStack();
  // NATS admits only broker and connector identities; the stream's admin calls are the broker's.
  nc = await stack.natsConnect(stack.brokerCert);
});
afterAll(async () => {
  await nc?.close();
  await stack?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const api = () => {
  const review = stack.review;
  if (!review) throw new Error("the stack runs without the log");
  return reviewClient(review.url, review.token);
};

async function headCovering(size: number): Promise<TreeHeadJson> {
  for (;;) {
    const head = await api()
      .get<TreeHeadJson>("/v1/log/tree-head")
      .catch(() => undefined);
    if (head && head.tree_size >= size) return head;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function receiptOfError(err: { metadata: { get(k: string): unknown[] } }): Receipt {
  const bin = err.metadata.get("xbus-receipt-bin")[0];
  if (!(bin instanceof Buffer)) throw new Error("error carries no receipt");
  return fromBinary(ReceiptSchema, bin);
}

/** A provider signature as the review API shows it (JSON, bytes in base64), as verifyReply takes it. */
function evidenceOf(ps: Record<string, unknown>) {
  const b64 = (k: string) => Buffer.from(typeof ps[k] === "string" ? ps[k] : "", "base64");
  return {
    signer: String(ps.signer ?? ""),
    certificateSha256: b64("certificate_sha256"),
    signature: b64("signature"),
    delegatedKey: b64("delegated_key"),
    delegation: b64("delegation"),
    batchIndex: Number(ps.batch_index ?? 0),
    batchSize: Number(ps.batch_size ?? 0),
    batchPath: ((ps.batch_path ?? []) as string[]).map((p) => Buffer.from(p, "base64")),
  };
}

describe("every attempt is logged, with a receipt that proves it", () => {
  const receipts: { receipt: Receipt; decision: string }[] = [];
  /** SHA-256 (hex) of the record bytes each allowed exchange released to the consumer. */
  const released: string[] = [];
  let subject: string;

  it("records allowed, denied, invalid and failed exchanges, each with a signed receipt", async () => {
    subject = stack.population.citizens[1]?.id ?? "";
    const client = stack.client();
    for (let i = 0; i < 5; i++) {
      const res = await client.fetch(
        { service: SERVICE, subjectId: subject, purpose: PURPOSE, requestId: `ok-${i}` },
        deadline(),
      );
      if (!res.receipt) throw new Error("no receipt");
      receipts.push({ receipt: res.receipt, decision: "allow" });
      released.push(
        createHash("sha256")
          .update(res.record?.value ?? new Uint8Array())
          .digest("hex"),
      );
    }
    const ungranted = stack.issue("log-ungranted", {
      spiffeId: "spiffe://gov.bt/agency/moh/system/ehr",
      commonName: "moh",
      usage: "client",
    });
    for (const [req, decision] of [
      [{ service: SERVICE, subjectId: subject, purpose: PURPOSE }, "deny"],
      [{ service: "dcrc.>", subjectId: subject, purpose: PURPOSE }, "invalid"],
      [{ service: SERVICE, subjectId: "12", purpose: PURPOSE }, "invalid"],
      [{ service: SERVICE, subjectId: "19999999998", purpose: PURPOSE }, "error"],
    ] as const) {
      const c = decision === "deny" ? stack.client(ungranted) : client;
      const err = await failure(c.fetch(req, deadline()));
      receipts.push({ receipt: receiptOfError(err), decision });
    }
    expect(receipts.map((r) => Number(r.receipt.leafIndex))).toEqual([...receipts.keys()]);
    for (const { receipt } of receipts) {
      const signed = receiptSignedBytes({
        ...receipt,
        leafHash: Buffer.from(receipt.leafHash).toString("hex"),
      });
      expect(verifyBatchedSignature(signed, stack.brokerPublicKey, batchedFromFields(receipt))).toBe(true);
    }
  });

  it("the API's entries are exactly those records, and hold no citizen ID", async () => {
    await headCovering(receipts.length);
    const { entries } = await api().get<{ entries: { index: number; record: Record<string, unknown> }[] }>(
      "/v1/log/entries",
      {
        start: 0,
        limit: 100,
      },
    );
    expect(entries.map((e) => e.record.decision)).toEqual(receipts.map((r) => r.decision));
    expect(entries.map((e) => e.record.status)).toEqual([
      "OK",
      "OK",
      "OK",
      "OK",
      "OK",
      "POLICY_DENIED",
      "INVALID_SERVICE",
      "INVALID_SUBJECT_ID",
      "SUBJECT_NOT_FOUND",
    ]);
    expect(entries[0]?.record).toMatchObject({
      consumer: stack.consumer.spiffeId,
      service: SERVICE,
      purpose: PURPOSE,
      request_id: "ok-0",
    });
    expect(entries[0]?.record.subject_ref).toMatch(/^[0-9a-f]{64}$/);
    // The hash of exactly the bytes the consumer got.
    expect(entries.slice(0, 5).map((e) => e.record.response_hash)).toEqual(released);
    // What the provider said, signed by its connector, is in the log too (hashes only).
    expect(entries[0]?.record.provider_signature).toMatchObject({
      signer: "spiffe://gov.bt/agency/dcrc/connector/dev",
    });
    expect(entries[5]?.record.provider_signature).toBeUndefined();
    // Anyone holding the connector's certificate can check what it said, from the log alone.
    const ps = entries[0]?.record.provider_signature as Record<string, string>;
    const b64 = (k: string) => Buffer.from(ps[k] ?? "", "base64");
    const evidence = evidenceOf(ps);
    const input = {
      exchangeId: String(entries[0]?.record.exchange_id),
      typeUrl: "type.googleapis.com/agencies.dcrc.v1.CitizenRecord",
      recordSha256: b64("record_sha256"),
    };
    expect(verifyReply(stack.adapterClient.cert, input, evidence)).toBe(true);
    expect(
      verifyReply(
        stack.adapterClient.cert,
        { ...input, exchangeId: "01a21a32-92f5-74b4-bdef-2682c21573ef" },
        evidence,
      ),
    ).toBe(false);
    expect(JSON.stringify(entries)).not.toContain(subject);
  });

  it("each receipt's leaf is in the signed tree: the API's inclusion proofs verify", async () => {
    const head = await headCovering(receipts.length);
    for (const { receipt } of receipts) {
      const index = Number(receipt.leafIndex);
      const proof = await api().get<{ leaf_hash: string; audit_path: string[] }>("/v1/log/proof/inclusion", {
        index,
        tree_size: head.tree_size,
      });
      expect(proof.leaf_hash).toBe(Buffer.from(receipt.leafHash).toString("hex"));
      const ok = verifyInclusion(
        index,
        head.tree_size,
        Buffer.from(receipt.leafHash),
        proof.audit_path.map((h) => Buffer.from(h, "hex")),
        Buffer.from(head.root_hash, "hex"),
      );
      expect(ok, `inclusion of ${index}`).toBe(true);
    }
  });

  it("one exchange comes with its own proof; a citizen can see who read their record", async () => {
    const id = (
      await api().get<{ entries: { record: { exchange_id: string } }[] }>("/v1/log/entries", {
        start: 0,
        limit: 1,
      })
    ).entries[0]?.record.exchange_id;
    const one = await api().get<{
      index: number;
      leaf_hash: string;
      inclusion: { tree_size: number; audit_path: string[]; root_hash: string };
    }>(`/v1/exchanges/${id}`);
    expect(one.index).toBe(0);
    expect(
      verifyInclusion(
        0,
        one.inclusion.tree_size,
        Buffer.from(one.leaf_hash, "hex"),
        one.inclusion.audit_path.map((h) => Buffer.from(h, "hex")),
        Buffer.from(one.inclusion.root_hash, "hex"),
      ),
    ).toBe(true);
    const { accesses } = await api().get<{
      accesses: { consumer: string; purpose: string; decision: string }[];
    }>(`/v1/subjects/${subject}/accesses`);
    expect(accesses.filter((a) => a.decision === "allow")).toHaveLength(5);
    expect(accesses.every((a) => a.purpose === PURPOSE)).toBe(true);
    const page = await api().get<{ exchanges: unknown[] }>("/v1/exchanges", { decision: "deny" });
    expect(page.exchanges).toHaveLength(1);
  });

  it("refuses reviewers without a token, and bad parameters with a reason", async () => {
    const review = stack.review;
    const res = await fetch(`${review?.url}/v1/log/tree-head`);
    expect(res.status).toBe(401);
    const wrong = await fetch(`${review?.url}/v1/log/tree-head`, {
      headers: { authorization: "Bearer not-the-right-token-at-all" },
    });
    expect(wrong.status).toBe(401);
    await expect(api().get("/v1/log/proof/inclusion", { index: 0, tree_size: 10_000 })).rejects.toThrow(
      /HTTP 400 tree_size must be/,
    );
    await expect(api().get("/v1/exchanges", { decision: "maybe" })).rejects.toThrow(
      /HTTP 400 decision must be/,
    );
    expect((await fetch(`${review?.url}/healthz`)).status).toBe(200);
  });

  it("an export verifies; the same export with one byte changed fails, naming the index", async () => {
    const lines: ExportLine[] = [];
    for await (const l of exportLog(api())) lines.push(l);
    expect(verifyExport(lines)).toMatchObject({ ok: true, entries: lines.length - 1 });
    const file = join(tmp, "export.jsonl");
    const edited = lines.map((l) => {
      if (l.type !== "entry" || l.index !== 3) return l;
      const leaf = Buffer.from(l.leaf, "base64");
      leaf[leaf.length - 1] = (leaf.at(-1) ?? 0) ^ 0x01;
      return { ...l, leaf: leaf.toString("base64") };
    });
    writeFileSync(file, `${edited.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const run = spawnSync(
      process.execPath,
      [join(import.meta.dirname, "../../bin/xbus.js"), "log", "verify", "--file", file],
      {
        encoding: "utf8",
      },
    );
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("FAIL at index 3");
  });

  it("tree heads at two sizes are consistent", async () => {
    const first = await headCovering(receipts.length);
    await stack.client().fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline());
    const second = await headCovering(first.tree_size + 1);
    const { proof } = await api().get<{ proof: string[] }>("/v1/log/proof/consistency", {
      first: first.tree_size,
      second: second.tree_size,
    });
    expect(
      verifyConsistency(
        first.tree_size,
        second.tree_size,
        Buffer.from(first.root_hash, "hex"),
        Buffer.from(second.root_hash, "hex"),
        proof.map((h) => Buffer.from(h, "hex")),
      ),
    ).toBe(true);
  });
});

describe("the broker answers only after the log has the record", () => {
  it("gives LOG_UNAVAILABLE and no record when the log refuses the append, and recovers", async () => {
    // Only the admin may change the stream (the broker's identity may not).
    if (!stack.adminCert) throw new Error("the stack has no admin identity");
    const adminNc = await stack.natsConnect(stack.adminCert);
    const jsm = await jetstreamManager(adminNc);
    const info = await jsm.streams.info(LOG_STREAM);
    await jsm.streams.update(LOG_STREAM, {
      ...info.config,
      max_msgs: info.state.messages,
      discard: DiscardPolicy.New,
    });
    const subject = stack.population.citizens[2]?.id ?? "";
    try {
      const err = await failure(
        stack.client().fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline()),
      );
      expect(err.code).toBe(status.UNAVAILABLE);
      expect(err.reason).toBe("LOG_UNAVAILABLE");
    } finally {
      await jsm.streams.update(LOG_STREAM, { ...info.config, max_msgs: -1 });
      await adminNc.close();
    }
    const res = await stack
      .client()
      .fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline());
    expect(res.record).toBeDefined();
    expect(res.receipt?.leafIndex).toBeGreaterThan(0n);
  });
});

describe("xbus log on the command line", () => {
  // Asynchronous: the review API answering the CLI runs in this very process.
  const xbus = (...args: string[]) =>
    runXbusAsync(["log", ...args], { XBUS_REVIEW_TOKEN: stack.review?.token ?? "" });

  it("receipt checks a Fetch's receipt: the broker's signature and the leaf in the signed tree", async () => {
    const res = await stack
      .client()
      .fetch(
        { service: SERVICE, subjectId: stack.population.citizens[3]?.id ?? "", purpose: PURPOSE },
        deadline(),
      );
    const receipt = res.receipt as Receipt;
    await headCovering(Number(receipt.leafIndex) + 1);
    const key = join(tmp, "broker-signing.pub.pem");
    writeFileSync(key, stack.brokerPublicKey.export({ type: "spki", format: "pem" }));
    const b64 = (r: Receipt) => Buffer.from(toBinary(ReceiptSchema, r)).toString("base64");
    const url = stack.review?.url ?? "";
    const good = await xbus("receipt", "--base64", b64(receipt), "--broker-key", key, "--url", url);
    expect(good.stdout).toMatch(
      /^ok: leaf \d+ of .*signed by the broker .*included in the signed tree of size \d+/,
    );
    expect(good.stdout).toContain(`) for exchange ${res.exchangeId}, included`);
    expect(good.status).toBe(0);
    const asJson = await xbus(
      "receipt",
      "--json",
      toJsonString(ReceiptSchema, receipt),
      "--broker-key",
      key,
      "--url",
      url,
    );
    expect(asJson.stdout).toMatch(/^ok: leaf/);
    const moved = create(ReceiptSchema, { ...receipt, leafIndex: receipt.leafIndex + 1n });
    const bad = await xbus("receipt", "--base64", b64(moved), "--broker-key", key, "--url", url);
    expect(bad.stdout).toMatch(/^FAIL: the broker's signature/);
    expect(bad.status).toBe(1);
    const junk = await xbus("receipt", "--base64", "bm90IGEgcmVjZWlwdA==", "--broker-key", key, "--offline");
    expect(junk.status).toBe(1);
    expect(junk.stderr + junk.stdout).toMatch(/Receipt|signature/);
  });

  it("query lists what the API holds, and verify passes live", async () => {
    const q = await xbus("query", "--url", stack.review?.url ?? "", "--decision", "deny", "--json");
    expect(q.status).toBe(0);
    const page = JSON.parse(q.stdout) as { exchanges: { record: { status: string } }[] };
    expect(page.exchanges.map((e) => e.record.status)).toEqual(["POLICY_DENIED"]);
    const v = await xbus("verify", "--url", stack.review?.url ?? "");
    expect(v.stdout).toMatch(/^ok: \d+ entries/);
    expect(v.status).toBe(0);
  });

  /** `xbus log reindex` into `db` from the stack's stream, as the broker's index is built. */
  const reindex = (db: string, logId: string) =>
    xbus(
      "reindex",
      "--db",
      db,
      "--log-key",
      stack.logFiles.key,
      "--nats",
      stack.nats.url,
      // The stack's NATS admits only the broker's and connectors' certificates.
      "--nats-ca",
      stack.caPath,
      "--nats-cert",
      stack.brokerCert.certPath,
      "--nats-key",
      stack.brokerCert.keyPath,
      "--log-id",
      logId,
    );

  it("reindex rebuilds the same tree from the stream alone", async () => {
    const head = await headCovering(1);
    const db = join(tmp, "rebuilt.sqlite");
    const r = await reindex(db, head.log_id);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const size = Number(/reindexed (\d+) entries/.exec(r.stdout)?.[1]);
    expect(size).toBeGreaterThanOrEqual(head.tree_size);
    const { proof } = await api().get<{ proof: string[] }>("/v1/log/proof/consistency", {
      first: head.tree_size,
      second: head.tree_size,
    });
    expect(proof).toEqual([]);
    const rebuiltRoot = /root ([0-9a-f]{64})/.exec(r.stdout)?.[1];
    const live = await headCovering(size);
    if (live.tree_size === size) expect(rebuiltRoot).toBe(live.root_hash);
    else {
      const c = await api().get<{ proof: string[] }>("/v1/log/proof/consistency", {
        first: size,
        second: live.tree_size,
      });
      expect(
        verifyConsistency(
          size,
          live.tree_size,
          Buffer.from(rebuiltRoot ?? "", "hex"),
          Buffer.from(live.root_hash, "hex"),
          c.proof.map((h) => Buffer.from(h, "hex")),
        ),
      ).toBe(true);
    }

    // Again over the index it just built: the rebuilt tree extends that index's last head, and replaces it.
    const again = await reindex(db, head.log_id);
    expect(again.stdout).toMatch(
      new RegExp(
        `^reindexed \\d+ entries; root [0-9a-f]{64}; extends the old index's last signed head \\(size ${size}\\)\n$`,
      ),
    );
    expect(again.status).toBe(0);
    expect(existsSync(`${db}.rebuilding`)).toBe(false);
  });

  it("reindex refuses to replace an index whose signed head the stream no longer leads to", async () => {
    const head = await headCovering(1);
    const logKey = createPrivateKey(readFileSync(stack.logFiles.key));
    /** An index of `count` leaves the stream never held, signed with the log's own key: a forked log's. */
    const forkedIndex = (name: string, count: number) => {
      const path = join(tmp, name);
      const index = new LogIndex(path, head.log_id, logKey);
      index.appendBatch(
        Array.from({ length: count }, (_, i) => ({
          seq: i + 1,
          leaf: Buffer.from(`not in the stream ${i}`),
        })),
      );
      const signed = index.signTreeHead();
      index.close();
      return { path, signed };
    };
    const streamSize = (await (await jetstreamManager(nc)).streams.info(LOG_STREAM)).state.messages;

    const other = forkedIndex("other-entries.sqlite", 3);
    const r = await reindex(other.path, head.log_id);
    expect(r.stdout).toMatch(
      /^FAIL: the log was rewritten or forked: the consistency proof from size 3 to \d+ does not verify, so the tree rebuilt from the stream \(root [0-9a-f]{64}\) is not shown to extend the old index's last signed head/,
    );
    expect(r.stdout).toContain(`the index at ${other.path} is left as it was`);
    expect(r.status).toBe(1);

    const longer = forkedIndex("more-entries.sqlite", streamSize + 5);
    const s = await reindex(longer.path, head.log_id);
    expect(s.stdout).toMatch(
      new RegExp(
        `^FAIL: the log was rewritten or forked: the tree rebuilt from the stream is of size \\d+, smaller than the old index's last signed head of size ${streamSize + 5}`,
      ),
    );
    expect(s.status).toBe(1);

    for (const { path, signed } of [other, longer]) {
      const kept = new LogIndexReader(path, head.log_id);
      expect(kept.latestTreeHead()).toEqual(signed);
      kept.close();
      expect(existsSync(`${path}.rebuilding`)).toBe(false);
    }
  });
});

describe("the request as received", () => {
  it("is what request_hash hashes, unknown fields and all", async () => {
    const fields = toBinary(
      FetchRequestSchema,
      create(FetchRequestSchema, {
        service: SERVICE,
        subjectId: stack.population.citizens[1]?.id ?? "",
        purpose: PURPOSE,
        requestId: "hash-as-sent",
      }),
    );
    // Field 99 first, a varint the broker does not know: encoded again, it would come after the known fields.
    const sent = Buffer.concat([Buffer.from([0x98, 0x06, 0x01]), fields]);
    const raw = stack.client().raw;
    const reply = await new Promise<Buffer>((resolve, reject) =>
      raw.makeUnaryRequest(
        "/xbus.v1.Exchange/Fetch",
        (b: Buffer) => b,
        (b: Buffer) => b,
        sent,
        new Metadata(),
        { deadline: deadline().deadline },
        (err: unknown, value?: Buffer) => (err || !value ? reject(err) : resolve(value)),
      ),
    );
    const receipt = fromBinary(FetchResponseSchema, reply).receipt as Receipt;
    await headCovering(Number(receipt.leafIndex) + 1);
    const { entries } = await api().get<{ entries: { record: Record<string, unknown> }[] }>(
      "/v1/log/entries",
      {
        start: Number(receipt.leafIndex),
        limit: 1,
      },
    );
    expect(entries[0]?.record.request_id).toBe("hash-as-sent");
    expect(entries[0]?.record.request_hash).toBe(createHash("sha256").update(sent).digest("hex"));
  });
});

describe("under load, one signature covers a batch", () => {
  it("receipts and provider signatures made together share a signature, and each still verifies on its own", async () => {
    const subject = stack.population.citizens[2]?.id ?? "";
    const client = stack.client();
    const results = await Promise.all(
      Array.from({ length: 48 }, (_, i) =>
        client.fetch(
          { service: SERVICE, subjectId: subject, purpose: PURPOSE, requestId: `batch-${i}` },
          deadline(),
        ),
      ),
    );
    const receipts = results.map((r) => r.receipt as Receipt);
    for (const r of receipts) {
      const signed = receiptSignedBytes({ ...r, leafHash: Buffer.from(r.leafHash).toString("hex") });
      expect(verifyBatchedSignature(signed, stack.brokerPublicKey, batchedFromFields(r))).toBe(true);
      // Another receipt's bytes do not pass with this receipt's proof.
      const other = receiptSignedBytes({ ...r, leafIndex: r.leafIndex + 1n, leafHash: "00" });
      expect(verifyBatchedSignature(other, stack.brokerPublicKey, batchedFromFields(r))).toBe(false);
    }
    // 48 at once: the broker signed some of them in batches (a lone signature has batch size 0).
    const batched = receipts.filter((r) => r.batchSize >= 2);
    expect(batched.length).toBeGreaterThan(0);
    const one = batched[0] as Receipt;
    await headCovering(Number(one.leafIndex) + 1);
    const checked = await checkReceipt(one, stack.brokerPublicKey, { client: api() });
    expect(checked).toMatchObject({
      ok: true,
      batchSize: one.batchSize,
      includedIn: { treeSize: expect.any(Number) },
    });
    expect(new Set(batched.map((r) => Buffer.from(r.signature).toString("hex"))).size).toBeLessThan(
      batched.length,
    );

    const last = Math.max(...receipts.map((r) => Number(r.leafIndex)));
    await headCovering(last + 1);
    const first = Math.min(...receipts.map((r) => Number(r.leafIndex)));
    const { entries } = await api().get<{ entries: { record: Record<string, unknown> }[] }>(
      "/v1/log/entries",
      {
        start: first,
        limit: 100,
      },
    );
    const mine = entries.filter((e) => String(e.record.request_id).startsWith("batch-"));
    expect(mine).toHaveLength(48);
    for (const e of mine) {
      const ps = e.record.provider_signature as Record<string, unknown>;
      const input = {
        exchangeId: String(e.record.exchange_id),
        typeUrl: "type.googleapis.com/agencies.dcrc.v1.CitizenRecord",
        recordSha256: Buffer.from(String(ps.record_sha256), "base64"),
      };
      const evidence = evidenceOf(ps);
      expect(verifyReply(stack.adapterClient.cert, input, evidence)).toBe(true);
    }
  });
});

describe("NATS going away", () => {
  it("gives UNAVAILABLE and no record while nats-server is down, and serves again once it is back", {
    timeout: 90_000,
  }, async () => {
    const server = stack.nats as { stop?: () => Promise<void>; restart?: () => Promise<void> };
    if (!server.stop || !server.restart) throw new Error("the test stack must own its nats-server");
    await server.stop();
    const subject = stack.population.citizens[4]?.id ?? "";
    try {
      // Until the broker's client notices the disconnect a call may also run into its deadline; never into a record.
      let reason: string | undefined;
      for (let i = 0; i < 50 && reason !== "BUS_UNAVAILABLE"; i++) {
        const err = await failure(
          stack.client().fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline(2000)),
        );
        expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED], err.details).toContain(err.code);
        reason = err.reason;
      }
      expect(reason).toBe("BUS_UNAVAILABLE");
    } finally {
      await server.restart();
    }
    for (;;) {
      try {
        const res = await stack
          .client()
          .fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline(3000));
        expect(res.receipt).toBeDefined();
        break;
      } catch (err) {
        if (process.env.XBUS_TEST_LOGS) console.log("after restart:", (err as Error).message);
        await new Promise((r) => setTimeout(r, 200)); // clients reconnect by themselves
      }
    }
  });
});
