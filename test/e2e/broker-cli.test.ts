import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dcrcAdapter } from "../../adapters/examples/dcrc/adapter.js";
import { createPopulation } from "../../adapters/examples/population.js";
import { type AdapterServer, serveAdapter } from "../../adapters/sdk/index.js";
import { type CaDir, type IssueRequest, initCaDir } from "../../certs/index.js";
import { tokenHash } from "../../cli/broker/services.js";
import { createServiceClient } from "../../core/grpc.js";
import { silentLogger } from "../../core/logger.js";
import { natsAuthConfig } from "../../core/nats-auth.js";
import { NatsServer } from "../../core/nats-server.js";
import { Exchange } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { killXbusProcesses, runXbus, startXbus } from "../helpers/xbus-process.js";

/*
 * The bus as a federation deploys it: a CA folder, a nats-server with mutual
 * TLS, `xbus broker` and `xbus connector` each in a process of its own,
 * configured by files, and the agency's adapter behind gRPC. Nothing of the
 * dev stack runs here; a consumer's Fetch crosses all of it.
 */
const root = join(import.meta.dirname, "../..");
const TD = "gov.bt";
const dir = mkdtempSync(join(tmpdir(), "xbus-deploy-"));
const population = createPopulation();
const token = randomBytes(24).toString("base64url");
let caDir: CaDir;
let nats: NatsServer;
let adapter: AdapterServer;
const server = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] };

function issue(name: string, req: IssueRequest) {
  const c = caDir.issue(req);
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  writeFileSync(cert, c.certPem);
  writeFileSync(key, c.keyPem, { mode: 0o600 });
  return { cert, key, certPem: c.certPem, keyPem: c.keyPem };
}

let brokerConfig: string;
let connectorConfig: string;
let consumer: ReturnType<typeof issue>;

beforeAll(async () => {
  caDir = initCaDir({ dir: join(dir, "ca"), trustDomain: TD });
  issue("broker", { role: "broker", spiffeId: `spiffe://${TD}/xbus/broker/b1`, ...server });
  issue("connector", {
    role: "connector",
    spiffeId: `spiffe://${TD}/agency/dcrc/connector/c1`,
  });
  const adapterCert = issue("adapter", {
    role: "adapter",
    spiffeId: `spiffe://${TD}/agency/dcrc/adapter/a1`,
    ...server,
  });
  consumer = issue("consumer", { role: "system", spiffeId: `spiffe://${TD}/agency/moe/system/scholarships` });
  const natsCert = issue("nats", { role: "server", ...server });
  nats = await NatsServer.start({
    extraConfig: natsAuthConfig({
      tls: { certFile: natsCert.cert, keyFile: natsCert.key, caFile: caDir.paths.caCert },
      identities: [`spiffe://${TD}/xbus/broker/b1`, `spiffe://${TD}/agency/dcrc/connector/c1`],
    }),
  });
  adapter = await serveAdapter(dcrcAdapter(population), {
    tls: { ca: caDir.ca.certPem, cert: adapterCert.certPem, key: adapterCert.keyPem },
    trustDomain: TD,
    logger: silentLogger,
  });

  const signing = generateKeyPairSync("ed25519");
  writeFileSync(
    join(dir, "broker-signing.pem"),
    signing.privateKey.export({ type: "pkcs8", format: "pem" }),
    {
      mode: 0o600,
    },
  );
  writeFileSync(
    join(dir, "broker-signing.pub.pem"),
    signing.publicKey.export({ type: "spki", format: "pem" }),
  );
  const logKey = generateKeyPairSync("ed25519").privateKey;
  writeFileSync(join(dir, "log-key.pem"), logKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  writeFileSync(join(dir, "log-secret"), `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "review-tokens"), `# the security team\n${tokenHash(token)}\n`);

  brokerConfig = join(dir, "broker.json");
  writeFileSync(
    brokerConfig,
    JSON.stringify({
      trust_domain: TD,
      listen: "localhost:0",
      nats: [nats.url],
      tls: { ca: "ca/ca.pem", cert: "broker.pem", key: "broker-key.pem" },
      crl: "ca/crl.pem",
      signing_key: "broker-signing.pem",
      log: {
        id: "gov.bt/xbus-log-test",
        secret: "log-secret",
        key: "log-key.pem",
        index: "log-index.sqlite",
      },
      policies: join(root, "policies"),
      review: { listen: "127.0.0.1:0", token_hashes: "review-tokens" },
    }),
  );
  connectorConfig = join(dir, "connector.json");
  writeFileSync(
    connectorConfig,
    JSON.stringify({
      agency: "dcrc",
      trust_domain: TD,
      nats: [nats.url],
      tls: { ca: "ca/ca.pem", cert: "connector.pem", key: "connector-key.pem" },
      broker_keys: ["broker-signing.pub.pem"],
      adapter: { address: `localhost:${adapter.port}` },
    }),
  );
}, 60_000);

afterAll(async () => {
  killXbusProcesses();
  await adapter?.close();
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("xbus broker and xbus connector, each in its own process", () => {
  it("answer a consumer's Fetch end to end, log it, and stop on SIGTERM with exit 0", {
    timeout: 90_000,
  }, async () => {
    const broker = await startXbus(["broker", "--config", brokerConfig], "info");
    const m =
      /^xbus broker: ready as spiffe:\/\/gov\.bt\/xbus\/broker\/b1: Exchange on (localhost:\d+), review API (http:\/\/127\.0\.0\.1:\d+), log gov\.bt\/xbus-log-test\n$/.exec(
        broker.ready,
      );
    expect(m, broker.ready).not.toBeNull();
    const [, exchange = "", reviewUrl = ""] = m ?? [];
    const connector = await startXbus(["connector", "--config", connectorConfig], "info");
    expect(connector.ready).toContain(
      "xbus connector: dcrc ready as spiffe://gov.bt/agency/dcrc/connector/c1",
    );

    const client = createServiceClient(
      Exchange,
      exchange,
      credentials.createSsl(
        Buffer.from(caDir.ca.certPem),
        Buffer.from(consumer.keyPem),
        Buffer.from(consumer.certPem),
      ),
    );
    const subject = population.citizens[0]?.id ?? "";
    const res = await client.fetch(
      { service: "dcrc.citizen-record", subjectId: subject, purpose: "scholarship-eligibility" },
      { deadline: Date.now() + 10_000 },
    );
    client.close();
    expect(res.releasedFields).toContain("name");
    expect(res.receipt?.logId).toBe("gov.bt/xbus-log-test");

    // The review API of the broker process indexes the exchange; only a listed token gets in.
    const get = (path: string, bearer = token) =>
      fetch(`${reviewUrl}${path}`, { headers: { authorization: `Bearer ${bearer}` } });
    expect((await get("/v1/log/tree-head", "not-the-token")).status).toBe(401);
    let size = 0;
    for (let i = 0; i < 100 && size < 1; i++) {
      size = ((await (await get("/v1/log/tree-head")).json()) as { tree_size: number }).tree_size;
      if (size < 1) await new Promise((r) => setTimeout(r, 100));
    }
    expect(size).toBe(1);

    connector.child.kill("SIGTERM");
    broker.child.kill("SIGTERM");
    expect(await connector.exited).toBe(0);
    expect(await broker.exited).toBe(0);
    for (const p of [broker, connector]) {
      expect(p.stderr()).not.toContain(subject);
      expect(p.stderr()).not.toContain("PRIVATE KEY");
    }
  });

  it("refuses to start with a connector's certificate, naming the setting", () => {
    const res = runXbus([
      "broker",
      "--config",
      brokerConfig,
      "--cert",
      join(dir, "connector.pem"),
      "--key",
      join(dir, "connector-key.pem"),
    ]);
    expect(res.status).toBe(1);
    expect(res.stderr).toBe(
      `xbus broker: --cert: ${join(dir, "connector.pem")} is the certificate of spiffe://gov.bt/agency/dcrc/connector/c1, not of a broker of trust domain gov.bt (spiffe://gov.bt/xbus/broker/<name>)\n`,
    );
  });
});
