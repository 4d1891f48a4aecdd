import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection, PermissionViolationError } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CaDir, initCaDir, writeIssued } from "../../certs/index.js";
import { createRequestMux, natsClientOptions, natsTlsInForce } from "../../core/nats/index.js";
import { NatsServer, natsAuthConfig, natsPermissionsFor } from "../../stack/index.js";

/*
 * The same identities on NATS: a real nats-server with mutual TLS and
 * verify_and_map, configured by stack/nats/nats-auth.ts from certificates issued
 * by a CA folder. NATS itself, not our code, refuses what a role may not do.
 */
let tmp: string;
let caDir: CaDir;
let nats: NatsServer;
const open: NatsConnection[] = [];
type Pem = { cert: string; key: string };
const ids = {
  broker: "spiffe://gov.bt/xbus/broker/b1",
  dcrc: "spiffe://gov.bt/agency/dcrc/connector/c1",
  moh: "spiffe://gov.bt/agency/moh/connector/c1",
  system: "spiffe://gov.bt/agency/moe/system/scholarships",
};
const pems: Record<keyof typeof ids, Pem> = {} as Record<keyof typeof ids, Pem>;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "xbus-nats-auth-"));
  caDir = initCaDir({ dir: join(tmp, "ca"), trustDomain: "gov.bt" });
  const server = caDir.issue({ role: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  writeIssued(server, join(tmp, "nats.pem"), join(tmp, "nats-key.pem"));
  for (const [name, spiffeId] of Object.entries(ids) as [keyof typeof ids, string][]) {
    const role = name === "broker" ? "broker" : name === "system" ? "system" : "connector";
    const c = caDir.issue({ role, spiffeId, ...(role === "broker" ? { dnsNames: ["localhost"] } : {}) });
    pems[name] = { cert: c.certPem, key: c.keyPem };
  }
  nats = await NatsServer.start({
    extraConfig: natsAuthConfig({
      tls: {
        certFile: join(tmp, "nats.pem"),
        keyFile: join(tmp, "nats-key.pem"),
        caFile: caDir.paths.caCert,
      },
      identities: [ids.broker, ids.dcrc, ids.moh],
    }),
  });
});
afterAll(async () => {
  for (const nc of open) await nc.close().catch(() => {});
  await nats?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

async function as(who: Pem | null): Promise<NatsConnection> {
  const nc = await connect({
    servers: nats.url,
    reconnect: false,
    tls: who ? { ca: caDir.ca.certPem, ...who } : { ca: caDir.ca.certPem },
  });
  open.push(nc);
  return nc;
}

/** The next permission error the server reports on this connection. */
async function nextPermissionError(nc: NatsConnection): Promise<PermissionViolationError> {
  for await (const s of nc.status()) {
    if (s.type === "error" && s.error instanceof PermissionViolationError) return s.error;
  }
  throw new Error("the connection closed without a permission error");
}

describe("NATS with the federation's identities", () => {
  it("lets the broker reach a connector of the agency, which may answer", async () => {
    const broker = await as(pems.broker);
    const dcrc = await as(pems.dcrc);
    const sub = dcrc.subscribe("xbus.svc.dcrc.*", {
      queue: "xbus-connector-dcrc",
      callback: (_err, m) => {
        m.respond(new TextEncoder().encode(`answer to ${m.subject}`));
      },
    });
    await dcrc.flush();
    const reply = await broker.request("xbus.svc.dcrc.citizen-record", new Uint8Array(), { timeout: 5000 });
    expect(new TextDecoder().decode(reply.data)).toBe("answer to xbus.svc.dcrc.citizen-record");
    sub.unsubscribe();
  });

  it("refuses a connector subscribing to another agency's subjects", async () => {
    const moh = await as(pems.moh);
    const errors = nextPermissionError(moh);
    const sub = moh.subscribe("xbus.svc.dcrc.>", { queue: "xbus-connector-dcrc" });
    const err = await errors;
    expect(err.operation).toBe("subscription");
    expect(err.subject).toBe("xbus.svc.dcrc.>");
    expect(err.message).toMatch(/Permissions Violation for Subscription to "xbus.svc.dcrc.>"/);
    expect(await sub.closed).toBeInstanceOf(PermissionViolationError);
  });

  it("refuses a connector listening to its own subjects outside its queue group", async () => {
    const moh = await as(pems.moh);
    const errors = nextPermissionError(moh);
    moh.subscribe("xbus.svc.moh.>");
    expect((await errors).operation).toBe("subscription");
  });

  it("fails the broker's request mux at once, naming the violation, on a connection that may not use an inbox", async () => {
    const moh = await as(pems.moh);
    const mux = createRequestMux(moh);
    const err = await mux
      .request("xbus.svc.moh.vaccination-record", new Uint8Array(), { timeoutMs: 600_000 })
      .catch((e: unknown) => e);
    expect(String(err)).toMatch(/Permissions Violation/);
  });

  it("refuses a connector publishing service requests", async () => {
    const moh = await as(pems.moh);
    const errors = nextPermissionError(moh);
    moh.publish("xbus.svc.dcrc.citizen-record", new Uint8Array());
    const err = await errors;
    expect(err.operation).toBe("publish");
    expect(err.message).toMatch(/Permissions Violation for Publish to "xbus.svc.dcrc.citizen-record"/);
  });

  it("refuses identities that are not NATS users, and clients without a certificate", async () => {
    await expect(as(pems.system)).rejects.toThrow(/Authorization Violation/i);
    await expect(as(null)).rejects.toThrow();
  });

  it("gives no NATS permissions to roles that have no business there", () => {
    expect(() => natsPermissionsFor(ids.system)).toThrow(
      /only brokers, log services, admins, connectors and leaf nodes use NATS/,
    );
    expect(natsPermissionsFor(ids.moh).subscribe.allow).toEqual(["xbus.svc.moh.> xbus-connector-moh"]);
  });

  it("reconnects with the renewed certificate put in force after the server's trust moved to a new CA", async () => {
    const dir = mkdtempSync(join(tmp, "rollover-"));
    const next = initCaDir({ dir: join(dir, "ca2"), trustDomain: "gov.bt" });
    const serverTrust = join(dir, "client-ca.pem");
    const bundle = `${caDir.ca.certPem}${next.ca.certPem}`;
    writeFileSync(serverTrust, caDir.ca.certPem);
    // What a broker's and a connector's TLS watchers hold in force (core/nats/tls.ts).
    const inForce = {
      broker: natsTlsInForce({ ca: bundle, ...pems.broker }),
      dcrc: natsTlsInForce({ ca: bundle, ...pems.dcrc }),
    };
    const server = await NatsServer.start({
      extraConfig: natsAuthConfig({
        tls: { certFile: join(tmp, "nats.pem"), keyFile: join(tmp, "nats-key.pem"), caFile: serverTrust },
        identities: [ids.broker, ids.dcrc],
      }),
    });
    try {
      const connected = async (name: keyof typeof inForce) => {
        const nc = await connect(
          natsClientOptions({ servers: server.url, tls: inForce[name], extra: { reconnectTimeWait: 50 } }),
        );
        open.push(nc);
        return nc;
      };
      const broker = await connected("broker");
      const dcrc = await connected("dcrc");
      dcrc.subscribe("xbus.svc.dcrc.*", {
        queue: "xbus-connector-dcrc",
        callback: (_err, m) => {
          m.respond(new TextEncoder().encode("ok"));
        },
      });
      await dcrc.flush();
      expect((await broker.request("xbus.svc.dcrc.x", new Uint8Array(), { timeout: 5000 })).string()).toBe(
        "ok",
      );

      // Renewed certificates from the new CA are put in force; the server now trusts only the new CA.
      const renewed = (c: { certPem: string; keyPem: string }) => ({
        ca: bundle,
        cert: c.certPem,
        key: c.keyPem,
      });
      inForce.broker.renew(
        renewed(next.issue({ role: "broker", spiffeId: ids.broker, dnsNames: ["localhost"] })),
      );
      inForce.dcrc.renew(renewed(next.issue({ role: "connector", spiffeId: ids.dcrc })));
      writeFileSync(serverTrust, next.ca.certPem);
      await server.stop();
      await server.restart();
      // A client still holding the old certificate is now refused: only the renewed one gets in.
      await expect(
        connect({ servers: server.url, reconnect: false, tls: { ca: bundle, ...pems.dcrc } }),
      ).rejects.toThrow();

      for (;;) {
        try {
          const reply = await broker.request("xbus.svc.dcrc.x", new Uint8Array(), { timeout: 1000 });
          expect(reply.string()).toBe("ok");
          break;
        } catch {
          // The two clients are still reconnecting.
        }
      }
    } finally {
      await server.dispose();
    }
  });
});
