import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { silentLogger } from "../../core/index.js";
import { createServiceClient } from "../../core/rpc/index.js";
import { createTelemetry } from "../../core/telemetry/index.js";
import { Exchange, type Receipt } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { type ClusterStack, devConnectorId, devJsonOf, startClusterStack } from "../../stack/index.js";
import { openCheckpoint, parseWitnessPolicy, reviewClient, type TreeHeadJson } from "../../verifier/index.js";
import { deadline, failure } from "../helpers/stack.js";

/*
 * `xbus dev --cluster`'s topology (stack/dev-cluster.ts), as one process: three core nats-servers with
 * the log at R3, a leaf nats-server per agency that its connector connects to, two brokers, the log
 * service and a standby. Exchanges through both brokers land in one log that both log services serve;
 * an agency's leaf down fails its services at once and leaves the others served; a connector revoked
 * behind its leaf (which no config reload of the federation reaches) has its replies refused by both
 * brokers, because their signature chains to a revoked certificate.
 */
const dir = mkdtempSync(join(tmpdir(), "xbus-dev-cluster-"));
const telemetry = createTelemetry({ serviceName: "xbus-test", env: {} });
let stack: ClusterStack;
let subject: string;

beforeAll(async () => {
  // The adapters run in their connectors' processes, so a revoked connector certificate is refused by the
  // broker's reply check alone (a gRPC adapter would refuse the connector's call first).
  stack = await startClusterStack({
    dir,
    logger: silentLogger,
    telemetry,
    inProcessAdapter: true,
    // As `xbus dev --cluster` runs them: three witnesses, any two make a checkpoint witnessed.
    witnesses: 3,
  });
  subject = stack.population.citizens[0]?.id ?? "";
}, 120_000);
afterAll(async () => {
  await stack?.close();
  await telemetry.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

const clientAt = (address: string) =>
  createServiceClient(
    Exchange,
    address,
    credentials.createSsl(
      Buffer.from(stack.ca.certPem),
      Buffer.from(stack.consumer.key),
      Buffer.from(stack.consumer.cert),
    ),
    { "grpc.use_local_subchannel_pool": 1 },
  );
const fetchAt = async (
  address: string,
  service = "dcrc.citizen-record",
  purpose = "scholarship-eligibility",
) => {
  const c = clientAt(address);
  try {
    return await c.fetch({ service, subjectId: subject, purpose }, deadline());
  } finally {
    c.close();
  }
};
const headAt = (url: string) =>
  reviewClient(url, stack.review?.token ?? "").get<TreeHeadJson>("/v1/log/tree-head");

it("writes dev.json with every broker, the core's URLs, both log services and the admin", () => {
  const json = devJsonOf(stack);
  expect(json.brokers).toHaveLength(2);
  expect(json.broker).toBe(json.brokers[0]);
  expect(json.nats_cluster).toHaveLength(3);
  expect(json.log_service).toEqual({ url: stack.review?.url, standby: stack.standby?.reviewUrl ?? "" });
  expect(json.admin?.cert).toMatch(/admin\.pem$/);
  expect([...stack.leaves.keys()].sort()).toEqual(["dcrc", "moe", "moh", "rsta"]);
});

it("exchanges through both brokers land in one log, and both log services serve one head of it", async () => {
  const receipts: Receipt[] = [];
  for (const address of stack.brokerAddresses)
    for (let i = 0; i < 3; i++) {
      const res = await fetchAt(address);
      if (res.receipt) receipts.push(res.receipt);
    }
  expect(receipts).toHaveLength(6);
  expect(new Set(receipts.map((r) => r.brokerId))).toEqual(new Set(["dev", "dev-2"]));
  const last = Math.max(...receipts.map((r) => Number(r.leafIndex)));
  let heads: [TreeHeadJson, TreeHeadJson] | undefined;
  for (let i = 0; i < 300 && !heads; i++) {
    const both = await Promise.all([headAt(stack.review?.url ?? ""), headAt(stack.standby?.reviewUrl ?? "")]);
    if (both.every((h) => h.tree_size > last) && both[0].tree_size === both[1].tree_size) heads = both;
    else await new Promise((r) => setTimeout(r, 100));
  }
  if (!heads) throw new Error("the two log services never served one head covering the receipts");
  expect(heads[1]).toEqual(heads[0]);
});

it("an agency's leaf down fails its services at once, the others are served, and it serves again when back", async () => {
  const leaf = stack.leaves.get("dcrc");
  if (!leaf) throw new Error("no dcrc leaf");
  const [address] = stack.brokerAddresses;
  if (!address) throw new Error("no broker");
  // moe's answer for this citizen (a record, or a reason) before dcrc's leaf goes down, and while it is.
  const moe = () =>
    fetchAt(address, "moe.exam-results").then(
      () => "served",
      async (err: unknown) => (await failure(Promise.reject(err))).reason ?? "none",
    );
  const moeBefore = await moe();
  await leaf.stop();
  try {
    // The core learns the leaf's subscriptions are gone when its connection drops: then no responders.
    let reason: string | undefined;
    for (let i = 0; i < 50 && reason !== "PROVIDER_UNAVAILABLE"; i++) {
      reason = (await failure(fetchAt(address))).reason;
      if (reason !== "PROVIDER_UNAVAILABLE") await new Promise((r) => setTimeout(r, 100));
    }
    expect(reason).toBe("PROVIDER_UNAVAILABLE");
    expect(moeBefore).not.toBe("PROVIDER_UNAVAILABLE");
    expect(await moe()).toBe(moeBefore);
  } finally {
    await leaf.restart();
  }
  let served = false;
  for (let i = 0; i < 100 && !served; i++) {
    served = await fetchAt(address).then(
      () => true,
      async () => {
        await new Promise((r) => setTimeout(r, 100));
        return false;
      },
    );
  }
  expect(served).toBe(true);
});

it("a connector revoked behind its leaf has its replies refused by every broker", async () => {
  expect(stack.caDir.revoke({ spiffeId: devConnectorId("dcrc") }, "keyCompromise").length).toBeGreaterThan(0);
  expect(stack.reloadCrl()).toBe(true);
  for (const address of stack.brokerAddresses) {
    const err = await failure(fetchAt(address));
    expect(err.reason).toBe("PROVIDER_BAD_RECORD");
    expect(err.details).toContain("revoked certificate");
  }
});

it("both log services serve a checkpoint two of the three witnesses cosigned, and it advances with one witness down", async () => {
  const policy = parseWitnessPolicy(readFileSync(stack.witnessPolicyPath ?? "", "utf8"));
  const witnessedAt = async (url: string) => {
    const res = await fetch(`${url}/checkpoint`);
    const opened = openCheckpoint(await res.text(), { logVkey: stack.logVkey, policy });
    return opened.ok ? opened : undefined;
  };
  const signedSize = async () =>
    Number((await (await fetch(`${stack.review?.url}/checkpoint/signed`)).text()).split("\n")[1]);
  await stack.stopWitness("W3");
  const before = await signedSize();
  // Any attempt is logged, served or refused (dcrc's connector was revoked above: moe's service).
  await fetchAt(stack.brokerAddresses[0] ?? "", "moe.exam-results").catch(() => undefined);
  let grown = before;
  for (let i = 0; i < 300 && grown <= before; i++) {
    await new Promise((r) => setTimeout(r, 100));
    grown = await signedSize();
  }
  expect(grown).toBeGreaterThan(before);
  const leaf = grown - 1;
  for (const url of [stack.review?.url ?? "", stack.standby?.reviewUrl ?? ""]) {
    let opened: Awaited<ReturnType<typeof witnessedAt>>;
    for (let i = 0; i < 300; i++) {
      opened = await witnessedAt(url);
      if (opened && opened.checkpoint.size > leaf) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(opened?.checkpoint.size, url).toBeGreaterThan(leaf);
    expect(opened?.cosigned.map((c) => c.name).sort()).toEqual(["W1", "W2"]);
  }
});
