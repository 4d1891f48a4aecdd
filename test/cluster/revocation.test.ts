import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { natsClientOptions, natsTlsInForce } from "../../core/nats/index.js";
import { TRUST_DOMAIN } from "../../stack/index.js";
import { startTestCluster, type TestCluster } from "../helpers/cluster.js";
import { runXbusAsync } from "../helpers/xbus-process.js";

// nats-server 2.9 reads no CRL: `xbus certs revoke`, then `xbus nats config --reload`, is how a revoked
// connector connected straight to a core node is cut off. Here on a real nats-server with the CLI.
const CONNECTOR = `spiffe://${TRUST_DOMAIN}/agency/dcrc/connector/c1`;
let t: TestCluster;

beforeAll(async () => {
  t = await startTestCluster({ size: 1 });
});
afterAll(async () => {
  await t?.dispose();
});

it("cuts a revoked connector off NATS within 10 s of the config reload, and it cannot reconnect", async () => {
  const node = t.cluster.nodes[0];
  if (!node?.pid) throw new Error("no running node");
  const conn = t.ids.issueIdentity("connector", { role: "connector", spiffeId: CONNECTOR });
  const natsConfig = () =>
    runXbusAsync([
      "nats",
      "config",
      "--ca-dir",
      t.ids.caDir.paths.dir,
      "--out",
      node.dir,
      "--reload",
      String(node.pid),
    ]);
  expect((await natsConfig()).status).toBe(0);
  const nc = await eventuallyConnect(conn);
  const cutOff = new Promise<number>((resolve) => {
    void (async () => {
      for await (const s of nc.status()) if (s.type === "disconnect") resolve(Date.now());
    })();
  });

  t.ids.caDir.revoke({ spiffeId: CONNECTOR }, "keyCompromise");
  const revokedAt = Date.now();
  const r = await natsConfig();
  expect(r.stdout).toContain(`reloaded nats-server ${node.pid}`);
  const cut = await Promise.race([cutOff, new Promise<number>((res) => setTimeout(() => res(-1), 10_000))]);
  expect(cut).toBeGreaterThan(0);
  process.stdout.write(`revoked connector cut off ${cut - revokedAt} ms after the revocation\n`);
  await expect(
    connect(
      natsClientOptions({
        servers: [...t.cluster.urls],
        tls: natsTlsInForce({ ca: t.ids.trustBundle, cert: conn.cert, key: conn.key }),
        extra: { maxReconnectAttempts: 0, reconnect: false },
      }),
    ),
  ).rejects.toThrow(/Authorization Violation/i);
  await nc.close();
});

/** The first config reload admits the connector; the server takes a moment to read it. */
async function eventuallyConnect(who: { cert: string; key: string }) {
  for (let i = 0; ; i++) {
    try {
      return await connect(
        natsClientOptions({
          servers: [...t.cluster.urls],
          tls: natsTlsInForce({ ca: t.ids.trustBundle, cert: who.cert, key: who.key }),
          extra: { reconnect: true },
        }),
      );
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
