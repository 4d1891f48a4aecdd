import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fromBinary } from "@bufbuild/protobuf";
import type { Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createPopulation } from "../../adapters/examples/population.js";
import { type AccessNotice, NOTIFY_SUBJECT } from "../../broker/index.js";
import { leafHash } from "../../core/log-format/index.js";
import { ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import { verifyInclusion } from "../../verifier/index.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";

// Delayed disclosure through the real broker: the repository's covert grant (policies/rbp.yaml) lets
// police investigators read the citizen record only when a request names its court order; such an
// exchange is logged at once with its embargo end and order, and oversight counts it. The citizen's
// portal, which they asked to be told, hears of each access when it becomes visible to them: an open
// one at once, the covert one only when the stack's injected clock passes its embargo (on NATS and by
// webhook, with no record data).

const RBP = "spiffe://gov.bt/agency/rbp/system/investigations";
const ORDER = "CR/2026/77";
const DAY = 86_400_000;
let stack: TestStack;
let police: { cert: string; key: string };
let subjectId: string;
let now = Date.now();
let webhook: Server;
const posted: AccessNotice[] = [];
const published: AccessNotice[] = [];
let sub: Subscription;

beforeAll(async () => {
  webhook = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      posted.push(JSON.parse(body) as AccessNotice);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, "127.0.0.1", r));
  const population = createPopulation();
  subjectId = population.citizens[0]?.id ?? "";
  stack = await startTestStack({
    population,
    // Anyone may subscribe without NATS's own authorisation: the test listens as the portal would.
    natsAuth: false,
    clock: () => now,
    notify: {
      nats: true,
      webhookUrl: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/notices`,
      optIn: [subjectId],
      intervalMs: 50,
    },
  });
  const nc = await stack.natsConnect();
  sub = nc.subscribe(NOTIFY_SUBJECT);
  void (async () => {
    for await (const m of sub) published.push(m.json<AccessNotice>());
  })();
  police = stack.issueIdentity("rbp-investigations", {
    role: "system",
    spiffeId: RBP,
    commonName: "rbp investigations (test)",
  });
}, 60_000);
afterAll(async () => {
  sub?.unsubscribe();
  await stack?.close();
  await new Promise((r) => webhook?.close(r));
});

/** Waits until both the webhook and the NATS subject delivered a notice for this index. */
async function noticeOf(index: number): Promise<AccessNotice> {
  for (let i = 0; i < 200; i++) {
    const p = posted.find((n) => n.index === index);
    const q = published.find((n) => n.index === index);
    if (p && q) {
      expect(q).toEqual(p);
      return p;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no notice of log entry ${index} in 20 s`);
}

const ask = (legalOrderRef?: string) =>
  stack.client(police).fetch(
    {
      service: "dcrc.citizen-record",
      subjectId,
      purpose: "criminal-investigation",
      fields: [],
      legalOrderRef,
    },
    deadline(),
  );

it("denies a covert read that names no legal order, and says why", async () => {
  const err = await failure(ask());
  expect(err.reason).toBe("LEGAL_ORDER_REQUIRED");
  expect(err.details).toContain("legal_order_ref");
  expect(stack.outcomes.at(-1)).toMatchObject({ decision: "deny", status: "LEGAL_ORDER_REQUIRED" });
});

it("refuses a legal order reference that is not one, naming the field", async () => {
  const err = await failure(ask("CR 2026 <77>"));
  expect(err.reason).toBe("INVALID_LEGAL_ORDER_REF");
  expect(err.field).toBe("legal_order_ref");
});

it("logs a covert read at once with its embargo end and order, and oversight counts it", async () => {
  const started = Date.now();
  const res = await ask(ORDER);
  expect(res.releasedFields).toContain("address");
  const index = Number(res.receipt?.leafIndex);
  // In the log at once: indexed, and its leaf proved against the first signed head that covers it.
  let head = stack.index?.latestTreeHead();
  for (let i = 0; !head || head.treeSize <= index; i++) {
    if (i > 200) throw new Error("no tree head covered the covert exchange in 20 s");
    await new Promise((r) => setTimeout(r, 100));
    head = stack.index?.latestTreeHead();
  }
  const entry = stack.index?.exchange(res.exchangeId);
  expect(entry?.index).toBe(index);
  const record = fromBinary(ExchangeRecordSchema, entry?.leaf ?? new Uint8Array());
  expect(record.legalOrderRef).toBe(ORDER);
  // P180D from the broker's clock at the decision.
  const end = Number(record.discloseAfter);
  expect(end).toBeGreaterThanOrEqual(started + 180 * DAY);
  expect(end).toBeLessThanOrEqual(Date.now() + 180 * DAY);

  const path = stack.index?.tree.inclusionProof(index, head.treeSize) ?? [];
  const leaf = leafHash(entry?.leaf ?? new Uint8Array());
  expect(verifyInclusion(index, head.treeSize, leaf, path, Buffer.from(head.rootHash, "hex"))).toBe(true);

  const oversight = await fetch(`${stack.review?.url}/v1/oversight/embargoes`, {
    headers: { authorization: `Bearer ${stack.review?.token}` },
  });
  const body = (await oversight.json()) as {
    total: number;
    agencies: { agency: string; count: number; releases: { first: number }[] }[];
  };
  expect(body.total).toBe(1);
  expect(body.agencies).toMatchObject([{ agency: "rbp", count: 1, releases: [{ first: end }] }]);
});

it("tells the opted-in citizen's portal of an open access at once, of the covert one only at its date", async () => {
  const covert = stack.outcomes.find((o) => o.legalOrderRef === ORDER && o.decision === "allow");
  const covertIndex = stack.index?.exchange(covert?.exchangeId ?? "")?.index ?? -1;
  expect(covertIndex).toBeGreaterThanOrEqual(0);
  const open = await stack
    .client()
    .fetch(
      { service: "dcrc.citizen-record", subjectId, purpose: "scholarship-eligibility", fields: ["name"] },
      deadline(),
    );
  const openIndex = Number(open.receipt?.leafIndex);
  const notice = await noticeOf(openIndex);
  // The log's keyed hash of the citizen ID, as the entry holds it: the notice names no citizen.
  const ref = stack.index?.exchange(open.exchangeId)?.record?.subjectRef;
  expect(notice).toEqual({
    subject_ref: ref,
    index: openIndex,
    visible_at: expect.any(Number),
    reason: "exchange",
  });
  // The notifier reads in log order: the covert entry, before the open one, was passed over.
  expect([...posted, ...published].some((n) => n.index === covertIndex)).toBe(false);

  const end = Number(stack.index?.exchange(covert?.exchangeId ?? "")?.record?.discloseAfter);
  now = end + 1;
  expect(await noticeOf(covertIndex)).toEqual({
    subject_ref: ref,
    index: covertIndex,
    visible_at: end,
    reason: "disclosed",
  });
});
