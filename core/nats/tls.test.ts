import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type CaDir, initCaDir, writeIssued } from "../../certs/index.js";
import { NatsServer, natsAuthConfig } from "../../stack/index.js";
import { certificateSha256, natsClientCertificates } from "../../test/helpers/tls.js";
import { natsClientOptions } from "./client.js";
import { natsTlsInForce } from "./tls.js";

/*
 * The shim between the TLS set a process holds in force and nats.js, against
 * a real nats-server with mutual TLS and verify_and_map: the certificate the
 * server sees is the one in force at each dial. nats.js has no callback for
 * TLS material, so this leans on how it keeps and reads its `tls` option; a
 * nats.js upgrade that changes that fails here.
 */
const BROKER = "spiffe://gov.bt/xbus/broker/b1";
let tmp: string;
let caDir: CaDir;
let nats: NatsServer;
const open: NatsConnection[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "xbus-nats-tls-"));
  caDir = initCaDir({ dir: join(tmp, "ca"), trustDomain: "gov.bt" });
  const server = caDir.issue({ role: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  writeIssued(server, join(tmp, "nats.pem"), join(tmp, "nats-key.pem"));
  nats = await NatsServer.start({
    monitor: true,
    extraConfig: natsAuthConfig({
      tls: {
        certFile: join(tmp, "nats.pem"),
        keyFile: join(tmp, "nats-key.pem"),
        caFile: caDir.paths.caCert,
      },
      identities: [BROKER],
    }),
  });
});
afterAll(async () => {
  for (const nc of open) await nc.close().catch(() => {});
  await nats?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

const brokerPem = () => {
  const c = caDir.issue({ role: "broker", spiffeId: BROKER, dnsNames: ["localhost"], renew: true });
  return { ca: caDir.ca.certPem, cert: c.certPem, key: c.keyPem };
};

/** Forces a reconnect and resolves once the connection is back. */
async function reconnect(nc: NatsConnection): Promise<void> {
  const status = nc.status();
  await nc.reconnect();
  for await (const s of status) if (s.type === "reconnect") return;
}

describe("natsTlsInForce", () => {
  it("presents the set in force at each reconnect, and the one it was opened with until then", async () => {
    const first = brokerPem();
    const tls = natsTlsInForce(first);
    const nc = await connect(natsClientOptions({ servers: nats.url, name: "in-force", tls }));
    open.push(nc);
    const presented = () => natsClientCertificates(nats.monitorUrl ?? "", "in-force");
    expect(await presented()).toEqual([{ user: BROKER, certSha256: certificateSha256(first.cert) }]);

    const renewed = brokerPem();
    tls.renew(renewed);
    // Nothing happens to the open connection: it keeps the certificate of its handshake.
    await nc.flush();
    expect(await presented()).toEqual([{ user: BROKER, certSha256: certificateSha256(first.cert) }]);

    await reconnect(nc);
    await vi.waitFor(
      async () =>
        expect(
          await presented(),
          "nats.js no longer reads its tls option at each dial: see core/nats/tls.ts, readAtEachDial",
        ).toEqual([{ user: BROKER, certSha256: certificateSha256(renewed.cert) }]),
      { timeout: 10_000, interval: 100 },
    );
  });

  it("tells its listeners each renewal until they unsubscribe, and keeps its own copy of the set", () => {
    const first = brokerPem();
    const tls = natsTlsInForce(first);
    const heard: string[] = [];
    const unsubscribe = tls.onRenew((pem) => heard.push(pem.cert));
    const second = brokerPem();
    tls.renew(second);
    unsubscribe();
    tls.renew(first);
    expect(heard).toEqual([second.cert]);
    // A caller changing the object it passed changes nothing in force.
    first.cert = "changed";
    expect(tls.current().cert).not.toBe("changed");
    expect(tls.option.cert).toBe(tls.current().cert);
  });
});
