import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { credentials, status } from "@grpc/grpc-js";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockOf, LOG_STREAM, openConsentStore } from "../../broker/index.js";
import { silentLogger } from "../../core/index.js";
import { createServiceClient, type ServiceClient } from "../../core/rpc/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import { parseRate } from "../../policies/index.js";
import { Consent, ConsentRecordSchema } from "../../proto/gen/xbus/v1/consent_pb.js";
import { Exchange, type Receipt, ReceiptSchema } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { tokenHash } from "../../stack/index.js";
import { checkReceipt, reviewClient, type TreeHeadJson } from "../../verifier/index.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";
import { killXbusProcesses, runXbusAsync, startXbus, type XbusProcess } from "../helpers/xbus-process.js";

/*
 * Two brokers, one log (README, "Log service"): broker A is the dev stack's, with the log service in
 * its process (the active signer); broker B is `xbus broker` in a process of its own configured
 * without a log key, and a standby log service is `xbus log serve` in another, with its own index.
 * Exchanges through both land in one stream; every receipt verifies against one signed head; both
 * log services serve that head, and `xbus log verify` sees one tree. One grant at 60/minute,
 * hammered through both brokers, is held to the rate plus the stated tolerance. A consent revoked
 * through A is in force on B (the latency measured and printed). B is SIGKILLed under load: A
 * serves on, and no receipt any client got is missing from the log.
 */
const SERVICE = "dcrc.citizen-record";
const PORTAL = "spiffe://gov.bt/agency/govtech/system/citizen-portal";
const EHR = "spiffe://gov.bt/agency/moh/system/ehr";
const LICENSING = "spiffe://gov.bt/agency/rsta/system/licensing";
const RATE = "60/minute";

const POLICIES = {
  "purposes.yaml": `purposes:
  - id: scholarship-eligibility
    legal_basis: test act 1
  - id: vaccination-status
    legal_basis: test act 2
  - id: licence-renewal
    legal_basis: test act 3
consent_authorities: [${PORTAL}]
`,
  "grants.yaml": `grants:
  - id: moe
    consumer: spiffe://gov.bt/agency/moe/system/scholarships
    service: ${SERVICE}
    purposes: [scholarship-eligibility]
    fields: [name]
  - id: ehr-with-consent
    consumer: ${EHR}
    service: ${SERVICE}
    purposes: [vaccination-status]
    fields: [name]
    consent: required
  - id: licensing-rated
    consumer: ${LICENSING}
    service: ${SERVICE}
    purposes: [licence-renewal]
    fields: [name]
    rate: ${RATE}
`,
};

const dir = mkdtempSync(join(tmpdir(), "xbus-two-brokers-"));
const keyB = generateKeyPairSync("ed25519");
let stack: TestStack;
let brokerB: XbusProcess;
let addressB: string;
let metricsB: string;
let standbyUrl: string;
let subject: string;
const closers: { close(): void }[] = [];

type Identity = { cert: string; key: string };
function exchangeAt(address: string, identity: Identity): ServiceClient<typeof Exchange.method> {
  const c = createServiceClient(
    Exchange,
    address,
    credentials.createSsl(
      Buffer.from(stack.ca.certPem),
      Buffer.from(identity.key),
      Buffer.from(identity.cert),
    ),
    // Each its own connection: a killed broker must not take the other's calls with it.
    { "grpc.use_local_subchannel_pool": 1 },
  );
  closers.push(c);
  return c as unknown as ServiceClient<typeof Exchange.method>;
}
const system = (spiffeId: string, name: string) =>
  stack.issue(name, { spiffeId, commonName: name, usage: "client" });

beforeAll(async () => {
  const policies = join(dir, "policies");
  mkdirSync(policies, { recursive: true });
  for (const [name, text] of Object.entries(POLICIES)) writeFileSync(join(policies, name), text);
  // Two witnesses: the standby (`xbus log serve`, its own process) pushes to them too.
  stack = await startTestStack({ policiesDir: policies, otherBrokerKeys: [keyB.publicKey], witnesses: 2 });
  subject = stack.population.citizens[0]?.id ?? "";
  const review = stack.review;
  if (!review) throw new Error("the stack runs no log service");
  writeFileSync(join(dir, "b-signing.pem"), keyB.privateKey.export({ type: "pkcs8", format: "pem" }), {
    mode: 0o600,
  });
  writeFileSync(join(dir, "review-tokens"), `${tokenHash(review.token)}\n`);
  const shared = {
    trust_domain: "gov.bt",
    nats: [stack.nats.url],
    tls: { ca: stack.caPath, cert: stack.brokerCert.certPath, key: stack.brokerCert.keyPath },
  };
  const secret = join(stack.dir, "secrets", "log-secret");
  writeFileSync(
    join(dir, "broker-b.json"),
    JSON.stringify({
      ...shared,
      broker_id: "b2",
      listen: "localhost:0",
      signing_key: "b-signing.pem",
      // No log.key, log.index or review: this broker holds no log key and runs no log service.
      log: { id: stack.logFiles.log_id, secret },
      policies: "policies",
      metrics: { port: 0 },
    }),
  );
  writeFileSync(
    join(dir, "log-standby.json"),
    JSON.stringify({
      ...shared,
      log: { id: stack.logFiles.log_id, secret, key: stack.logFiles.key, index: "standby.sqlite" },
      review: { listen: "127.0.0.1:0", token_hashes: "review-tokens" },
      signer: { lease_ms: 1000 },
      witnessing: { policy: stack.witnessPolicyPath },
    }),
  );
  const standby = await startXbus(["log", "serve", "--config", join(dir, "log-standby.json")]);
  standbyUrl = /review API (\S+),/.exec(standby.ready)?.[1] ?? "";
  const b = await startXbus(["broker", "--config", join(dir, "broker-b.json")]);
  brokerB = b;
  addressB = /Exchange on (\S+),/.exec(b.ready)?.[1] ?? "";
  expect(b.ready).toContain("log service elsewhere");
  metricsB = (/metrics (\S+)\n/.exec(b.ready)?.[1] ?? "").replace(/\/metrics$/, "");
}, 120_000);

afterAll(async () => {
  for (const c of closers) c.close();
  killXbusProcesses();
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

const token = () => stack.review?.token ?? "";
const logPublicKey = () => rawEd25519(stack.logPublicKey).toString("base64");
const headAt = (url: string) => reviewClient(url, token()).get<TreeHeadJson>("/v1/log/tree-head");
async function streamSize(): Promise<number> {
  const nc = await stack.natsConnect({ cert: stack.brokerCert.cert, key: stack.brokerCert.key });
  try {
    return (await (await jetstreamManager(nc)).streams.info(LOG_STREAM)).state.last_seq;
  } finally {
    await nc.close();
  }
}
/** Waits until both log services serve a head of the whole stream; that head. */
async function headOfWholeStream(): Promise<TreeHeadJson> {
  const size = await streamSize();
  let head: TreeHeadJson | undefined;
  for (let i = 0; i < 300; i++) {
    const [a, b] = await Promise.all([headAt(stack.review?.url ?? ""), headAt(standbyUrl)]);
    if (a.tree_size === size && b.tree_size === size) {
      head = b;
      expect(a).toEqual(b);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!head) throw new Error(`no head of size ${size} from both log services`);
  return head;
}
const brokerKeyOf = (r: Receipt) => (r.brokerId === "b2" ? keyB.publicKey : stack.brokerPublicKey);

describe("two brokers, one log", () => {
  it("exchanges through both land in one stream and every receipt verifies against one signed head", async () => {
    const consumer = stack.consumer;
    const a = exchangeAt(stack.brokerAddress, consumer);
    const b = exchangeAt(addressB, consumer);
    const receipts: Receipt[] = [];
    for (let i = 0; i < 8; i++)
      for (const c of [a, b]) {
        const res = await c.fetch(
          { service: SERVICE, subjectId: subject, purpose: "scholarship-eligibility", fields: ["name"] },
          deadline(),
        );
        if (res.receipt) receipts.push(res.receipt);
      }
    expect(receipts).toHaveLength(16);
    // Broker B, without the review API, serves its metrics and readiness on their own port.
    const ready = await fetch(`${metricsB}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, checks: { nats: { ok: true } } });
    expect(await (await fetch(`${metricsB}/metrics`)).text()).toContain("xbus_");
    expect(new Set(receipts.map((r) => r.brokerId))).toEqual(new Set(["dev", "b2"]));
    expect(new Set(receipts.map((r) => r.logId))).toEqual(new Set([stack.logFiles.log_id]));
    expect(new Set(receipts.map((r) => r.leafIndex)).size).toBe(16);

    const head = await headOfWholeStream();
    const client = reviewClient(standbyUrl, token());
    for (const r of receipts) {
      const check = await checkReceipt(r, brokerKeyOf(r), { client, logPublicKey: logPublicKey() });
      expect(check).toMatchObject({
        ok: true,
        includedIn: { treeSize: head.tree_size, rootHash: head.root_hash },
      });
    }
    // The independent verifier recomputes the whole tree from each log service and checks its head.
    for (const url of [standbyUrl, stack.review?.url ?? ""]) {
      const verified = await runXbusAsync(["log", "verify", "--url", url, "--public-key", logPublicKey()], {
        XBUS_REVIEW_TOKEN: token(),
      });
      expect(verified.status, verified.stderr).toBe(0);
      expect(verified.stdout).toContain(head.root_hash);
    }
    // Each log service serves the checkpoint of that head once both witnesses cosigned it (the standby's
    // pushes go over HTTP from its own process), and `xbus log checkpoint` checks it under the policy,
    // with no reviewer token.
    for (const url of [standbyUrl, stack.review?.url ?? ""]) {
      for (let i = 0; i < 300; i++) {
        const note = await (await fetch(`${url}/checkpoint`)).text();
        if (Number(note.split("\n")[1]) >= head.tree_size) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const checked = await runXbusAsync(
        [
          "log",
          "checkpoint",
          "--url",
          url,
          "--vkey",
          stack.logVkey,
          "--policy",
          stack.witnessPolicyPath ?? "",
        ],
        { XBUS_REVIEW_TOKEN: token() },
      );
      expect(checked.stdout, `${url}: ${checked.stderr}`).toMatch(
        /^ok: checkpoint of \S+, size \d+, root [0-9a-f]{64}, cosigned by W1 at \S+, W2 at /,
      );
      expect(Number(/size (\d+)/.exec(checked.stdout)?.[1])).toBeGreaterThanOrEqual(head.tree_size);
      expect(checked.status).toBe(0);
    }
  });
});

describe("federation-wide rates", () => {
  it(`one grant at ${RATE} hammered through both brokers allows at most the rate plus the tolerance`, async () => {
    const licensing = system(LICENSING, "licensing");
    const clients = [exchangeAt(stack.brokerAddress, licensing), exchangeAt(addressB, licensing)];
    const tries = 160;
    let allowed = 0;
    let limited = 0;
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = next++; i < tries; i = next++) {
          const c = clients[(i + w) % 2] as (typeof clients)[number];
          try {
            await c.fetch(
              { service: SERVICE, subjectId: subject, purpose: "licence-renewal", fields: ["name"] },
              deadline(),
            );
            allowed++;
          } catch (err) {
            const e = await failure(Promise.reject(err));
            expect(e.reason).toBe("RATE_LIMITED");
            limited++;
          }
        }
      }),
    );
    const elapsedMs = performance.now() - started;
    const rate = parseRate(RATE);
    const refilled = Math.ceil((elapsedMs * rate.count) / rate.perMs);
    const tolerance = 2 * blockOf(rate);
    const bound = rate.count + refilled + tolerance;
    console.log(
      `rates: ${allowed} of ${tries} allowed through 2 brokers in ${Math.round(elapsedMs)} ms at ${RATE}; bound ${bound} = ${rate.count} + ${refilled} refilled + 2 brokers × block ${blockOf(rate)}`,
    );
    expect(allowed + limited).toBe(tries);
    // Less than the rate only by what a broker leased and kept for later: at most block − 1 each.
    expect(allowed).toBeGreaterThanOrEqual(rate.count - 2 * (blockOf(rate) - 1));
    expect(allowed).toBeLessThanOrEqual(bound);
  });
});

describe("consent revocation across brokers", () => {
  it("a consent revoked through broker A is refused by broker B", async () => {
    const portalId = system(PORTAL, "portal");
    const portal = createServiceClient(
      Consent,
      stack.brokerAddress,
      credentials.createSsl(
        Buffer.from(stack.ca.certPem),
        Buffer.from(portalId.key),
        Buffer.from(portalId.cert),
      ),
    );
    closers.push(portal);
    const ehrAtB = exchangeAt(addressB, system(EHR, "ehr"));
    const { consent } = await portal.grant(
      {
        subjectId: subject,
        consumer: EHR,
        services: [SERVICE],
        purpose: "vaccination-status",
        notAfter: BigInt(Date.now() + 3_600_000),
      },
      deadline(),
    );
    const consentId = consent?.id ?? "";
    const ask = () =>
      ehrAtB.fetch(
        { service: SERVICE, subjectId: subject, purpose: "vaccination-status", consentId },
        deadline(),
      );
    // B's copy of the bucket follows A's write within its watch's latency.
    for (let i = 0; ; i++) {
      const ok = await ask().then(
        () => true,
        () => false,
      );
      if (ok) break;
      if (i > 100) throw new Error("broker B never honoured the consent given through A");
      await new Promise((r) => setTimeout(r, 20));
    }
    await portal.revoke({ id: consentId }, deadline());
    const revokedAt = performance.now();
    let refused: Awaited<ReturnType<typeof failure>> | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      refused = await ask().then(
        () => undefined,
        (err: unknown) => failure(Promise.reject(err)),
      );
    }
    const endToEndMs = performance.now() - revokedAt;
    expect(refused?.code).toBe(status.PERMISSION_DENIED);
    expect(refused?.reason).toBe("CONSENT_INVALID");
    console.log(
      `consent: a revocation through broker A was refused by broker B ${Math.round(endToEndMs)} ms after A confirmed it (an upper bound: it includes B's Fetch round trips)`,
    );
  });

  it("measures how soon a write to the consent bucket reaches another broker's watched copy", async () => {
    const identity = { cert: stack.brokerCert.cert, key: stack.brokerCert.key };
    const [ncA, ncB] = await Promise.all([
      stack.natsConnect(identity, "consent-a"),
      stack.natsConnect(identity, "consent-b"),
    ]);
    const [storeA, storeB] = await Promise.all([
      openConsentStore({ nc: ncA, logger: silentLogger }),
      openConsentStore({ nc: ncB, logger: silentLogger }),
    ]);
    try {
      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) {
        const id = crypto.randomUUID();
        const record = {
          ...fromBinary(ConsentRecordSchema, new Uint8Array()),
          id,
          subjectId: subject,
          consumer: EHR,
          services: [SERVICE],
          purpose: "vaccination-status",
          notAfter: BigInt(Date.now() + 3_600_000),
          revokedAt: BigInt(Date.now()),
        };
        const t0 = performance.now();
        await storeA.put(record);
        // Polled every millisecond: the watch's delivery, not the poll, is what is measured.
        for (let n = 0; !storeB.get(id)?.revokedAt; n++) {
          if (n > 5000) throw new Error("the other broker's copy never held the revocation");
          await new Promise((r) => setTimeout(r, 1));
        }
        latencies.push(performance.now() - t0);
      }
      latencies.sort((x, y) => x - y);
      const at = (q: number) =>
        Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
      console.log(
        `consent: a revocation written through one broker's store reached another broker's copy in median ${at(0.5)} ms, max ${at(1)} ms (20 writes, two NATS connections, polled every 1 ms)`,
      );
      expect(latencies).toHaveLength(20);
    } finally {
      await storeA.close();
      await storeB.close();
      await ncA.close();
      await ncB.close();
    }
  });
});

describe("a broker SIGKILLed under load", () => {
  it("the other serves on, and every receipt any client got is in the log", async () => {
    const consumer = stack.consumer;
    const clients = [exchangeAt(stack.brokerAddress, consumer), exchangeAt(addressB, consumer)];
    const receipts: Receipt[] = [];
    const failures: string[] = [];
    let done = 0;
    let killed = false;
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 20; i++) {
          const c = clients[(i + w) % 2] as (typeof clients)[number];
          try {
            const res = await c.fetch(
              { service: SERVICE, subjectId: subject, purpose: "scholarship-eligibility", fields: ["name"] },
              deadline(2000),
            );
            if (res.receipt) receipts.push(res.receipt);
          } catch (err) {
            const e = await failure(Promise.reject(err));
            const bin = e.metadata?.get("xbus-receipt-bin")[0];
            if (bin instanceof Buffer) receipts.push(fromBinary(ReceiptSchema, bin));
            failures.push(`${e.code} ${e.reason ?? ""}`);
          }
          if (++done === 20 && !killed) {
            killed = true;
            brokerB.child.kill("SIGKILL");
          }
        }
      }),
    );
    expect(killed).toBe(true);
    await brokerB.exited;
    // Only calls to the killed broker failed, each as unavailable.
    expect(
      failures.every(
        (f) => f.startsWith(`${status.UNAVAILABLE} `) || f.startsWith(`${status.DEADLINE_EXCEEDED} `),
      ),
    ).toBe(true);
    const after = await clients[0]?.fetch(
      { service: SERVICE, subjectId: subject, purpose: "scholarship-eligibility", fields: ["name"] },
      deadline(),
    );
    if (after?.receipt) receipts.push(after.receipt);
    const head = await headOfWholeStream();
    const client = reviewClient(standbyUrl, token());
    let missing = 0;
    for (const r of receipts) {
      const check = await checkReceipt(r, brokerKeyOf(r), { client, logPublicKey: logPublicKey() });
      if (!check.ok) missing++;
    }
    console.log(
      `SIGKILL: ${receipts.length} receipts (${receipts.filter((r) => r.brokerId === "b2").length} from the killed broker), ${failures.length} calls failed, ${missing} receipts missing from the log of size ${head.tree_size}`,
    );
    expect(missing).toBe(0);
    expect(receipts.some((r) => r.brokerId === "b2")).toBe(true);
  });
});
