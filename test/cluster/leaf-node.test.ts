import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectorQueue } from "../../core/nats/index.js";
import {
  LOOPBACK,
  type NatsServer,
  natsUsersConfig,
  startLeafNode,
  TRUST_DOMAIN,
} from "../../stack/index.js";
import { eventually, startTestCluster, type TestCluster } from "../helpers/cluster.js";

// An agency's leaf nats-server from deploy/nats/leaf.conf dials out to the core; its connector connects to
// the leaf with mutual TLS. Requests for the agency reach it; the leaf down, they fail at once (no
// responders: the broker's PROVIDER_UNAVAILABLE); the leaf back, they are served with nothing restarted.
const LEAF = `spiffe://${TRUST_DOMAIN}/agency/dcrc/leaf/leaf1`;
const CONNECTOR = `spiffe://${TRUST_DOMAIN}/agency/dcrc/connector/c1`;
let t: TestCluster;
let leaf: NatsServer;
let broker: NatsConnection;
let connector: NatsConnection;

beforeAll(async () => {
  t = await startTestCluster({ size: 1, users: [LEAF] });
  const files = (p: { certPath: string; keyPath: string }) => ({
    certFile: p.certPath,
    keyFile: p.keyPath,
    caFile: t.ids.caPath,
  });
  const leafCert = t.ids.issueIdentity("leaf", { role: "leaf", spiffeId: LEAF });
  const leafServer = t.ids.issueIdentity("leaf-server", { role: "server", ...LOOPBACK });
  const conn = t.ids.issueIdentity("connector", { role: "connector", spiffeId: CONNECTOR });
  leaf = await startLeafNode({
    agency: "dcrc",
    tls: files(leafServer),
    leafTls: files(leafCert),
    core: t.cluster.leafUrls,
    auth: natsUsersConfig([CONNECTOR]),
  });
  connector = await t.connect(conn, [leaf.tlsUrl], "connector");
  connector.subscribe("xbus.svc.dcrc.>", {
    queue: connectorQueue("dcrc"),
    callback: (_err, msg) => {
      msg.respond(new TextEncoder().encode("from dcrc"));
    },
  });
  await connector.flush();
  broker = await t.connect(t.broker, t.cluster.urls, "broker");
});
afterAll(async () => {
  await connector?.close();
  await broker?.close();
  await leaf?.dispose();
  await t?.dispose();
});

const ask = (subject: string) => broker.request(subject, new Uint8Array(), { timeout: 3000 });

it("carries an agency's requests to its connector behind the leaf, and nothing of another agency", async () => {
  // The leaf's subscription reaches the core once the leaf connection is up.
  const reply = await eventually(() => ask("xbus.svc.dcrc.citizen-record"));
  expect(new TextDecoder().decode(reply.data)).toBe("from dcrc");
  await expect(ask("xbus.svc.moh.fitness")).rejects.toThrow(/no responders/);
});

it("fails at once while the leaf is down and serves again when it is back, nothing restarted", async () => {
  await leaf.stop();
  const started = Date.now();
  await expect(
    eventually(async () => {
      await ask("xbus.svc.dcrc.citizen-record").then(
        () => {
          throw new Error("still answered");
        },
        (err: Error) => {
          if (!/no responders/.test(err.message)) throw err;
        },
      );
    }),
  ).resolves.toBeUndefined();
  process.stdout.write(`leaf down: no responders ${Date.now() - started} ms after the stop\n`);
  await leaf.restart();
  const reply = await eventually(() => ask("xbus.svc.dcrc.citizen-record"));
  expect(new TextDecoder().decode(reply.data)).toBe("from dcrc");
});
