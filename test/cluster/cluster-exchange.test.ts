import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LOG_STREAM } from "../../broker/index.js";
import { leafHash } from "../../core/log-format/index.js";
import { DEV_ADMIN, DEV_BROKER, devConnectorId } from "../../stack/index.js";
import { eventually, startTestCluster, type TestCluster } from "../helpers/cluster.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";

// The whole bus (broker, connectors, adapters) on a three-node core at R3: exchanges land in the stream;
// with one node stopped under a small load they go on, only those in flight fail (with a reason: the log
// or the rate counters, both in JetStream, unreachable while it elects; the provider; the deadline), and
// every receipt a client got is in the stream afterwards.
const SERVICE = "dcrc.citizen-record";
const PURPOSE = "scholarship-eligibility";
let t: TestCluster;
let stack: TestStack;

beforeAll(async () => {
  t = await startTestCluster({
    users: [DEV_ADMIN, DEV_BROKER, ...["dcrc", "moh", "moe", "rsta"].map((a) => devConnectorId(a))],
  });
  stack = await startTestStack({ dir: t.dir, natsCluster: { urls: t.cluster.urls, replicas: 3 } });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  await t?.dispose();
});

it("keeps serving with one core node stopped, and every receipt given is in the stream", async () => {
  const subject = stack.population.citizens[0]?.id ?? "";
  const receipts: { leafIndex: bigint; leafHash: Uint8Array }[] = [];
  const reasons: string[] = [];
  const one = async () => {
    try {
      const res = await stack
        .client()
        .fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline());
      if (res.receipt) receipts.push({ leafIndex: res.receipt.leafIndex, leafHash: res.receipt.leafHash });
    } catch (err) {
      const f = await failure(Promise.reject(err));
      // No reason: the broker never answered, and the client's own deadline (code 4) ended the call.
      reasons.push(f.reason ?? `code ${f.code}`);
    }
  };
  for (let i = 0; i < 5; i++) await one();
  const victim = t.cluster.nodes[1];
  if (!victim) throw new Error("no second node");
  const load = Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 10; i++) await one();
    }),
  );
  await victim.stop();
  await load;
  for (let i = 0; i < 5; i++) await one();
  await victim.restart();
  process.stdout.write(
    `one node stopped: ${receipts.length} receipts, ${reasons.length} failed (${reasons.join(", ")})\n`,
  );
  expect(receipts.length).toBeGreaterThanOrEqual(10);
  for (const r of reasons)
    expect([
      "LOG_UNAVAILABLE",
      "BUS_UNAVAILABLE",
      "PROVIDER_UNAVAILABLE",
      "DEADLINE_EXCEEDED",
      "code 4",
    ]).toContain(r);
  if (!stack.adminCert) throw new Error("no admin");
  const admin = await stack.natsConnect(stack.adminCert);
  const jsm = await jetstreamManager(admin);
  let missing = 0;
  for (const r of receipts) {
    const m = await eventually(() => jsm.streams.getMessage(LOG_STREAM, { seq: Number(r.leafIndex) + 1 }));
    if (!m || Buffer.compare(leafHash(m.data), Buffer.from(r.leafHash)) !== 0) missing++;
  }
  await admin.close();
  expect(missing).toBe(0);
});
