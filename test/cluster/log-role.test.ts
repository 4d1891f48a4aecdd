import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LOG_HEAD_BUCKET, LOG_STREAM, LOG_SUBJECT } from "../../broker/index.js";
import { initFederation, TRUST_DOMAIN } from "../../stack/index.js";
import { startTestCluster, type TestCluster, waitForJetStream } from "../helpers/cluster.js";

// The log service's own NATS identity (role `log`): it reads XBUS_LOG through a consumer and swaps the signed
// head in XBUS_LOG_HEAD, and NATS refuses it an append to the log, a service request and any stream change.
const LOG_ID = `spiffe://${TRUST_DOMAIN}/xbus/log/log1`;
let t: TestCluster;
let admin: NatsConnection;
let broker: NatsConnection;
let log: NatsConnection;

beforeAll(async () => {
  t = await startTestCluster({ users: [LOG_ID] });
  admin = await t.connect(t.admin, t.cluster.urls, "admin");
  await waitForJetStream(admin);
  await initFederation(admin, { replicas: 1 });
  broker = await t.connect(t.broker, t.cluster.urls, "broker");
  const cert = t.ids.issueIdentity("log", { role: "log", spiffeId: LOG_ID });
  log = await t.connect(cert, t.cluster.urls, "log");
});
afterAll(async () => {
  for (const nc of [admin, broker, log]) await nc?.close();
  await t?.dispose();
});

const refused = (subject: string) =>
  new RegExp(
    `Permissions Violation for Publish to "${subject.replaceAll(".", "\\.").replaceAll("$", "\\$")}`,
  );

it("reads the log stream through its own consumer, and reads and swaps the signed head", async () => {
  await jetstream(broker).publish(LOG_SUBJECT, new TextEncoder().encode("an exchange record"));
  const jsm = await jetstreamManager(log);
  expect((await jsm.streams.info(LOG_STREAM)).state.messages).toBe(1);
  const consumer = await jsm.consumers.add(LOG_STREAM, { ack_policy: AckPolicy.Explicit });
  const m = await (await jetstream(log).consumers.get(LOG_STREAM, consumer.name)).next({ expires: 5000 });
  expect(new TextDecoder().decode(m?.data)).toBe("an exchange record");
  m?.ack();
  const kv = await new Kvm(log).open(LOG_HEAD_BUCKET);
  const rev = await kv.create("test-head", new TextEncoder().encode("head 1"));
  await kv.update("test-head", new TextEncoder().encode("head 2"), rev);
  expect(new TextDecoder().decode((await kv.get("test-head"))?.value)).toBe("head 2");
  // A stale revision loses the swap: the one-signer lock holds for this identity too.
  await expect(kv.update("test-head", new TextEncoder().encode("head 3"), rev)).rejects.toThrow(
    /wrong last sequence/,
  );
});

it("cannot append to the log, send a service request, or change a stream", async () => {
  await expect(jetstream(log).publish(LOG_SUBJECT, new Uint8Array(1))).rejects.toThrow(refused(LOG_SUBJECT));
  await expect(
    log.request("xbus.svc.dcrc.citizen-record", new Uint8Array(1), { timeout: 3000 }),
  ).rejects.toThrow(refused("xbus.svc.dcrc.citizen-record"));
  const jsm = await jetstreamManager(log);
  await expect(jsm.streams.delete(LOG_STREAM)).rejects.toThrow(refused("$JS.API.STREAM.DELETE.XBUS_LOG"));
  await expect(jsm.streams.purge(LOG_STREAM)).rejects.toThrow(refused("$JS.API.STREAM.PURGE.XBUS_LOG"));
  // Nothing it tried reached the stream.
  expect((await (await jetstreamManager(admin)).streams.info(LOG_STREAM)).state.messages).toBe(1);
});
