import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyStream,
  consentBucketSpec,
  ensureLogStream,
  LOG_STREAM,
  LOG_SUBJECT,
  logStreamSpec,
  openConsentBucket,
} from "../../broker/index.js";
import { eventually, startTestCluster, type TestCluster, waitForJetStream } from "../helpers/cluster.js";

// Three core nats-servers from deploy/nats/core.conf, routes over mutual TLS with a route certificate,
// XBUS_LOG and the consent bucket at R3, made by the admin identity.
let t: TestCluster;
let admin: NatsConnection;
let broker: NatsConnection;

beforeAll(async () => {
  t = await startTestCluster();
  admin = await t.connect(t.admin, t.cluster.urls, "admin");
  await waitForJetStream(admin);
  broker = await t.connect(t.broker, t.cluster.urls, "broker");
});

afterAll(async () => {
  await admin?.close();
  await broker?.close();
  await t?.dispose();
});

describe("a three-node core", () => {
  it("refuses a stream that exists with other settings, naming the difference; the admin brings it to R3", async () => {
    const jsm = await jetstreamManager(admin);
    await jsm.streams.add(logStreamSpec(1));
    await expect(ensureLogStream(admin, 3)).rejects.toThrow(
      /stream XBUS_LOG exists with other settings: num_replicas is 1, not 3/,
    );
    expect(await applyStream(jsm, logStreamSpec(3, 64 * 1024 * 1024))).toBe("updated");
    await ensureLogStream(admin, 3);
    const info = await jsm.streams.info(LOG_STREAM);
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.replicas?.length).toBeGreaterThanOrEqual(2);
    // Lowering max_bytes would drop the oldest records at once: refused, not done.
    await expect(applyStream(jsm, logStreamSpec(3, 1024 * 1024))).rejects.toThrow(
      /max_bytes 67108864 → 1048576 is lowering it; only raising it is allowed/,
    );
    await expect(applyStream(jsm, { ...logStreamSpec(3), deny_purge: false })).rejects.toThrow(
      /deny_purge cannot be changed in place/,
    );
    expect((await jsm.streams.info(LOG_STREAM)).config.max_bytes).toBe(64 * 1024 * 1024);
  });

  it("the consent bucket is made at R3 and a bucket of another replica count is refused", async () => {
    await openConsentBucket(admin, "xbus_consents", 3);
    const kv = await openConsentBucket(broker, "xbus_consents", 3);
    await kv.put("consent.x", new Uint8Array([1]));
    const jsm = await jetstreamManager(admin);
    expect((await jsm.streams.info(consentBucketSpec().name)).config.num_replicas).toBe(3);
    await expect(openConsentBucket(admin, "xbus_consents", 1)).rejects.toThrow(
      /stream KV_xbus_consents exists with other settings: num_replicas is 3, not 1/,
    );
  });

  it("refuses a broker's identity that tries to delete, purge or update XBUS_LOG, or make a stream", async () => {
    const jsm = await jetstreamManager(broker);
    const { config } = await jsm.streams.info(LOG_STREAM);
    const refused = (subject: string) =>
      new RegExp(`Permissions Violation for Publish to "\\$JS\\.API\\.${subject}`);
    await expect(jsm.streams.delete(LOG_STREAM)).rejects.toThrow(refused("STREAM\\.DELETE\\.XBUS_LOG"));
    await expect(jsm.streams.purge(LOG_STREAM)).rejects.toThrow(refused("STREAM\\.PURGE\\.XBUS_LOG"));
    await expect(jsm.streams.update(LOG_STREAM, { ...config, max_bytes: 1 })).rejects.toThrow(
      refused("STREAM\\.UPDATE\\.XBUS_LOG"),
    );
    await expect(jsm.streams.deleteMessage(LOG_STREAM, 1)).rejects.toThrow(refused("STREAM\\.MSG\\.DELETE"));
    await expect(jsm.streams.add({ name: "OTHER", subjects: ["xbus.svc.x"] })).rejects.toThrow(
      refused("STREAM\\.CREATE\\.OTHER"),
    );
    // The admin sees the stream as it was.
    const after = await (await jetstreamManager(admin)).streams.info(LOG_STREAM);
    expect(after.config.max_bytes).toBe(config.max_bytes);
  });

  it("appends go on with one node killed, and the node catches up when it is back", async () => {
    const js = jetstream(broker);
    const before = (await (await jetstreamManager(admin)).streams.info(LOG_STREAM)).state.messages;
    const victim = t.cluster.nodes[2];
    if (!victim) throw new Error("no third node");
    await victim.kill();
    // An append in flight when the node died (its stream leader, say) fails while the others elect a new
    // leader (timeout, or no responders); sent again with the same id, it is stored once.
    for (let i = 0; i < 5; i++)
      await eventually(() => js.publish(LOG_SUBJECT, new Uint8Array([i]), { msgID: `k${i}`, timeout: 2000 }));
    await victim.restart();
    const info = await eventually(async () => (await jetstreamManager(admin)).streams.info(LOG_STREAM));
    expect(info.state.messages).toBe(before + 5);
  });
});
