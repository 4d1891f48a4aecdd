import {
  Client,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identifyPeer } from "../../broker/identity/peer-identity.js";
import { createCa, issueCertificate } from "../../certs/index.js";
import { rawUnaryMethod } from "../../test/helpers/tls.js";
import { peerCertificateOf, peerSessionOf } from "./peer-certificate.js";

const TRUST_DOMAIN = "peer.test";
const METHOD = "/xbus.test.Peer/Who";
const bytes = (b: Buffer) => b;

/**
 * The broker reads the client certificate once per connection (the HTTP/2
 * session), through grpc-js internals. These tests fail if a grpc-js upgrade
 * moves them (the per-call fallback would then cost ~100 µs a call) or if the
 * cache ever mixed up two connections.
 */
describe("peer certificate per connection", () => {
  const ca = createCa({ trustDomain: TRUST_DOMAIN });
  const serverCert = issueCertificate(ca, {
    commonName: "peer test server",
    usage: "server",
    dnsNames: ["localhost"],
  });
  const client = (name: string) => {
    const c = issueCertificate(ca, {
      commonName: name,
      usage: "client",
      spiffeId: `spiffe://${TRUST_DOMAIN}/agency/${name}/system/app`,
    });
    return new Client(
      `localhost:${port}`,
      credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(c.keyPem), Buffer.from(c.certPem)),
    );
  };
  const server = new Server();
  const seen: { session: object | undefined; uri: string }[] = [];
  let port = 0;

  beforeAll(async () => {
    server.addService(
      {
        who: rawUnaryMethod(METHOD),
      },
      {
        who(call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) {
          const peer = identifyPeer(peerCertificateOf(call), TRUST_DOMAIN);
          seen.push({ session: peerSessionOf(call), uri: peer.id.uri });
          cb(null, Buffer.from(peer.id.uri));
        },
      },
    );
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        "localhost:0",
        ServerCredentials.createSsl(
          Buffer.from(ca.certPem),
          [{ cert_chain: Buffer.from(serverCert.certPem), private_key: Buffer.from(serverCert.keyPem) }],
          true,
        ),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
  });
  afterAll(() => server.forceShutdown());

  const ask = (c: Client) =>
    new Promise<string>((resolve, reject) =>
      c.makeUnaryRequest(METHOD, bytes, bytes, Buffer.alloc(1), new Metadata(), (err, reply?: Buffer) =>
        err || !reply ? reject(err) : resolve(reply.toString()),
      ),
    );

  it("finds the session of a real call, the same one for calls on one connection", async () => {
    const moe = client("moe");
    try {
      expect(await ask(moe)).toBe(`spiffe://${TRUST_DOMAIN}/agency/moe/system/app`);
      expect(await ask(moe)).toBe(`spiffe://${TRUST_DOMAIN}/agency/moe/system/app`);
    } finally {
      moe.close();
    }
    const [a, b] = seen.slice(-2);
    expect(a?.session).toBeDefined();
    expect(a?.session).toBe(b?.session);
  });

  it("never hands one connection's identity to another", async () => {
    const moh = client("moh");
    const rsta = client("rsta");
    try {
      const answers = await Promise.all([ask(moh), ask(rsta), ask(moh), ask(rsta)]);
      expect(answers).toEqual([
        `spiffe://${TRUST_DOMAIN}/agency/moh/system/app`,
        `spiffe://${TRUST_DOMAIN}/agency/rsta/system/app`,
        `spiffe://${TRUST_DOMAIN}/agency/moh/system/app`,
        `spiffe://${TRUST_DOMAIN}/agency/rsta/system/app`,
      ]);
    } finally {
      moh.close();
      rsta.close();
    }
    const last = seen.slice(-4);
    const mohSession = last.find((s) => s.uri.includes("/moh/"))?.session;
    const rstaSession = last.find((s) => s.uri.includes("/rsta/"))?.session;
    expect(mohSession).toBeDefined();
    expect(mohSession).not.toBe(rstaSession);
  });
});
