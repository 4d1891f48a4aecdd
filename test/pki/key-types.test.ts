import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Client,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { identifyPeer } from "../../broker/identity/peer-identity.js";
import { initCaDir, KEY_TYPES, type KeyType, writeIssued } from "../../certs/index.js";
import { natsClientOptions, natsTlsInForce } from "../../core/nats/index.js";
import { batchedToFields, createReplySigner, sha256, verifyReply } from "../../core/signing/index.js";
import { peerCertificateOf } from "../../core/tls/index.js";
import { NatsServer, natsAuthConfig } from "../../stack/index.js";
import { rawUnaryMethod } from "../helpers/tls.js";

/*
 * Each key type `xbus certs` issues, end to end: a CA of that type, and
 * identities of that type in a gRPC mutual-TLS call (grpc-js on both sides, as
 * broker and adapters use it) and on a nats-server with mutual TLS and
 * verify_and_map (the SPIFFE ID is the NATS user), and a connector's reply
 * signature made and checked with the certificate's key.
 */
const TD = "gov.bt";
const CONNECTOR = `spiffe://${TD}/agency/dcrc/connector/c1`;
const BROKER = `spiffe://${TD}/xbus/broker/b1`;
const METHOD = "/xbus.test.KeyTypes/Who";
const bytes = (b: Buffer) => b;
const tmp = mkdtempSync(join(tmpdir(), "xbus-key-types-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** One gRPC call over mutual TLS; resolves to the SPIFFE ID the server saw. */
async function grpcCall(
  ca: string,
  server: { certPem: string; keyPem: string },
  client: { certPem: string; keyPem: string },
): Promise<string> {
  const s = new Server();
  s.addService(
    {
      who: rawUnaryMethod(METHOD),
    },
    {
      who(call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) {
        cb(null, Buffer.from(identifyPeer(peerCertificateOf(call), TD).id.uri));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    s.bindAsync(
      "localhost:0",
      ServerCredentials.createSsl(
        Buffer.from(ca),
        [{ cert_chain: Buffer.from(server.certPem), private_key: Buffer.from(server.keyPem) }],
        true,
      ),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  );
  const c = new Client(
    `localhost:${port}`,
    credentials.createSsl(Buffer.from(ca), Buffer.from(client.keyPem), Buffer.from(client.certPem)),
  );
  try {
    return await new Promise<string>((resolve, reject) =>
      c.makeUnaryRequest(METHOD, bytes, bytes, Buffer.alloc(0), new Metadata(), (err, res) =>
        err || !res ? reject(err) : resolve(res.toString()),
      ),
    );
  } finally {
    c.close();
    s.forceShutdown();
  }
}

describe.each(KEY_TYPES)("%s keys", (keyType: KeyType) => {
  const dir = join(tmp, keyType);
  const ca = initCaDir({ dir: join(dir, "ca"), trustDomain: TD, keyType });
  const server = ca.issue({ role: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], keyType });
  const broker = ca.issue({ role: "broker", spiffeId: BROKER, dnsNames: ["localhost"], keyType });
  const connector = ca.issue({ role: "connector", spiffeId: CONNECTOR, keyType });

  it("makes a CA and identities of that type", () => {
    const want = { ecdsa: "ec", ed25519: "ed25519", rsa: "rsa" }[keyType];
    for (const pem of [ca.ca.certPem, server.certPem, broker.certPem, connector.certPem]) {
      expect(new X509Certificate(pem).publicKey.asymmetricKeyType).toBe(want);
    }
    expect(createPrivateKey(connector.keyPem).asymmetricKeyType).toBe(want);
  });

  it("serves a gRPC call over mutual TLS, the client known by its SPIFFE ID", async () => {
    expect(await grpcCall(ca.ca.certPem, broker, connector)).toBe(CONNECTOR);
  });

  it("connects to nats-server with mutual TLS, the SPIFFE ID mapped to its NATS user", async () => {
    writeIssued(server, join(dir, "nats.pem"), join(dir, "nats-key.pem"));
    await using nats = await NatsServer.start({
      extraConfig: natsAuthConfig({
        tls: { certFile: join(dir, "nats.pem"), keyFile: join(dir, "nats-key.pem"), caFile: ca.paths.caCert },
        identities: [BROKER, CONNECTOR],
      }),
    });
    const tls = (c: { certPem: string; keyPem: string }) =>
      natsTlsInForce({ ca: ca.ca.certPem, cert: c.certPem, key: c.keyPem });
    const agency = await connect(natsClientOptions({ servers: nats.url, name: "c", tls: tls(connector) }));
    const bus = await connect(natsClientOptions({ servers: nats.url, name: "b", tls: tls(broker) }));
    try {
      agency.subscribe("xbus.svc.dcrc.>", {
        queue: "xbus-connector-dcrc",
        callback: (_e, m) => {
          m.respond("ok");
        },
      });
      await agency.flush();
      expect((await bus.request("xbus.svc.dcrc.test", "ping")).string()).toBe("ok");
    } finally {
      await agency.close();
      await bus.close();
    }
  });

  it("signs a connector's replies with the certificate's key, and they verify", async () => {
    const signer = createReplySigner(connector.certPem, createPrivateKey(connector.keyPem));
    const input = {
      exchangeId: "ex-1",
      typeUrl: "type.googleapis.com/x",
      recordSha256: sha256(Buffer.from("r")),
    };
    const evidence = {
      signer: signer.signer,
      certificateSha256: signer.certificateSha256,
      delegatedKey: signer.delegatedKey,
      delegation: signer.delegation,
      ...batchedToFields(await signer.sign(input)),
    };
    expect(verifyReply(connector.certPem, input, evidence)).toBe(true);
    expect(verifyReply(connector.certPem, { ...input, exchangeId: "ex-2" }, evidence)).toBe(false);
  });
});
