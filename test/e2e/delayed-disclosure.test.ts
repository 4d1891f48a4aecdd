import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, it } from "vitest";
import { leafHash } from "../../core/log-format/index.js";
import { ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import { verifyInclusion } from "../../verifier/index.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";

// Delayed disclosure through the real broker: the repository's covert grant (policies/rbp.yaml) lets
// police investigators read the citizen record only when a request names its court order; such an
// exchange is logged at once with its embargo end and order, and oversight counts it.

const RBP = "spiffe://gov.bt/agency/rbp/system/investigations";
const ORDER = "CR/2026/77";
const DAY = 86_400_000;
let stack: TestStack;
let police: { cert: string; key: string };
let subjectId: string;

beforeAll(async () => {
  stack = await startTestStack();
  police = stack.issueIdentity("rbp-investigations", {
    role: "system",
    spiffeId: RBP,
    commonName: "rbp investigations (test)",
  });
  subjectId = stack.population.citizens[0]?.id ?? "";
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

const ask = (legalOrderRef?: string) =>
  stack
    .client(police)
    .fetch(
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
