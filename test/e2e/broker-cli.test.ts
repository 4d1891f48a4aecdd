import { generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dcrcAdapter } from "../../adapters/examples/dcrc/adapter.js";
import { createPopulation } from "../../adapters/examples/population.js";
import { type AdapterServer, serveAdapter } from "../../adapters/sdk/index.js";
import {
  type CaDir,
  type CertificateAuthority,
  createCa,
  type IssueRequest,
  initCaDir,
} from "../../certs/index.js";
import { silentLogger } from "../../core/index.js";
import { createServiceClient } from "../../core/rpc/index.js";
import { Exchange } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { NatsServer, natsAuthConfig, tokenHash } from "../../stack/index.js";
import {
  brokerCertificate,
  certificateSha256,
  natsClientCertificates,
  serverCertificateSerial,
} from "../helpers/tls.js";
import {
  killXbusProcesses,
  logLines,
  renewalLines,
  runXbus,
  runXbusAsync,
  spawnXbus,
  startXbus,
} from "../helpers/xbus-process.js";

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
  const admin = issue("admin", { role: "admin", spiffeId: `spiffe://${TD}/xbus/admin/ops` });
  nats = await NatsServer.start({
    monitor: true,
    extraConfig: natsAuthConfig({
      tls: { certFile: natsCert.cert, keyFile: natsCert.key, caFile: caDir.paths.caCert },
      identities: [
        `spiffe://${TD}/xbus/admin/ops`,
        `spiffe://${TD}/xbus/broker/b1`,
        `spiffe://${TD}/agency/dcrc/connector/c1`,
      ],
    }),
  });
  // The broker may not create streams: the admin makes them first, as an operator would.
  const init = await runXbusAsync([
    "federation",
    "init",
    ...["--nats", nats.url, "--ca", caDir.paths.caCert, "--cert", admin.cert, "--key", admin.key],
    ...["--replicas", "1"],
  ]);
  expect(init).toMatchObject({
    status: 0,
    stdout:
      "XBUS_LOG: created (replicas 1)\nKV_xbus_consents: created (replicas 1)\n" +
      "KV_xbus_rates: created (replicas 1)\nKV_XBUS_LOG_HEAD: created (replicas 1)\n",
  });
  const signing = generateKeyPairSync("ed25519");
  adapter = await serveAdapter(dcrcAdapter(population), {
    tls: { ca: caDir.ca.certPem, cert: adapterCert.certPem, key: adapterCert.keyPem },
    trustDomain: TD,
    brokerKeys: [signing.publicKey],
    logger: silentLogger,
  });

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

    const client = consumerClient(exchange);
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
    // Its files did not change: the certificate is reported once, at start, and nothing was renewed.
    const brokerLog = logLines(broker.stderr());
    expect(brokerLog.filter((l) => l.msg === "own certificate")).toHaveLength(1);
    expect(renewalLines(broker.stderr())).toEqual([]);
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

/** An Exchange client of the broker at `exchange` (host:port), as the consumer system. */
const consumerClient = (exchange: string) =>
  createServiceClient(
    Exchange,
    exchange,
    credentials.createSsl(
      Buffer.from(caDir.ca.certPem),
      Buffer.from(consumer.keyPem),
      Buffer.from(consumer.certPem),
    ),
  );

/** The serial of the certificate the broker at `exchange` shows a new connection. */
const brokerSerial = (exchange: string) =>
  serverCertificateSerial(exchange, { ca: caDir.ca.certPem, cert: consumer.certPem, key: consumer.keyPem });

/**
 * A broker config on copies of the broker's files in folder `name`, so a test may rewrite them while the
 * other tests keep theirs, with a log index of its own; `caPem` is the trust bundle file's text.
 */
function brokerFolder(name: string, caPem = readFileSync(caDir.paths.caCert, "utf8")) {
  const tlsDir = join(dir, name);
  mkdirSync(tlsDir);
  const files = {
    ca: join(tlsDir, "ca.pem"),
    cert: join(tlsDir, "broker.pem"),
    key: join(tlsDir, "broker-key.pem"),
  };
  writeFileSync(files.ca, caPem);
  copyFileSync(join(dir, "broker.pem"), files.cert);
  copyFileSync(join(dir, "broker-key.pem"), files.key);
  const config = join(dir, `broker-${name}.json`);
  const settings = JSON.parse(readFileSync(brokerConfig, "utf8")) as Record<string, unknown>;
  writeFileSync(
    config,
    JSON.stringify({
      ...settings,
      tls: { ca: `${name}/ca.pem`, cert: `${name}/broker.pem`, key: `${name}/broker-key.pem` },
      log: { ...(settings.log as object), index: `${name}/log-index.sqlite` },
    }),
  );
  return { files, config };
}

/** Issues b1 a renewed certificate (`--renew`) and writes it over `files`, the key first as a renewal might. */
function renewOver(files: { cert: string; key: string }) {
  const renewed = caDir.issue({
    role: "broker",
    spiffeId: `spiffe://${TD}/xbus/broker/b1`,
    renew: true,
    ...server,
  });
  writeFileSync(files.key, renewed.keyPem);
  writeFileSync(files.cert, renewed.certPem);
  return renewed;
}

/** Restarts nats-server: every client reconnects, presenting whatever TLS identity it holds then. */
async function restartNats(): Promise<void> {
  await nats.stop();
  await nats.restart();
}

/** Waits until the broker's and its indexer's NATS connections are back, each presenting `certPem`. */
async function brokerOnNatsWith(certPem: string): Promise<void> {
  const want = [{ user: `spiffe://${TD}/xbus/broker/b1`, certSha256: certificateSha256(certPem) }];
  await vi.waitFor(
    async () => {
      const monitor = nats.monitorUrl ?? "";
      expect(await natsClientCertificates(monitor, "xbus-broker-b1")).toEqual(want);
      expect(await natsClientCertificates(monitor, "xbus-indexer-b1")).toEqual(want);
    },
    { timeout: 20_000, interval: 100 },
  );
}

describe("xbus broker, its certificate renewed in place", () => {
  it("refuses a set it would not start with (expired, another CA's, another trust domain's, a connector's) or that names another broker, one warning each naming the file and the reason, keeps its certificate on gRPC and on NATS reconnects, and takes a proper renewal on both", {
    timeout: 120_000,
  }, async () => {
    const { files, config } = brokerFolder("renewal");
    const originalPem = readFileSync(files.cert, "utf8");
    const original = new X509Certificate(originalPem).serialNumber.toUpperCase();

    const b = await startXbus(["broker", "--config", config], "info");
    const exchange = /Exchange on (\S+),/.exec(b.ready)?.[1] ?? "";
    const reviewUrl = /review API (\S+),/.exec(b.ready)?.[1] ?? "";
    // A connector, so that exchanges cross NATS both ways.
    const c = await startXbus(["connector", "--config", connectorConfig]);
    const REFUSED = "new TLS files not taken (yet); the ones in force stay";
    const refusals = () => logLines(b.stderr()).filter((l) => l.msg === REFUSED);
    const messageOf = (l: Record<string, unknown>) => (l.err as { message?: string } | undefined)?.message;
    const wanted = "not of a broker of trust domain gov.bt (spiffe://gov.bt/xbus/broker/<name>)";
    const DAY = 86_400_000;
    const brokerOf = (ca: CertificateAuthority, o: Parameters<typeof brokerCertificate>[2] = {}) =>
      brokerCertificate(ca, "b1", o);
    /** Writes the set (key first, as a renewal might) and waits for its refusal; new clients still meet the original. */
    const refused = async (set: { cert: string; key: string }, reason: string) => {
      writeFileSync(files.key, set.key);
      writeFileSync(files.cert, set.cert);
      await b.waitFor(() => refusals().some((l) => messageOf(l) === reason), `the refusal "${reason}"`);
      expect(await brokerSerial(exchange)).toBe(original);
    };
    const expired = brokerOf(caDir.ca, {
      notBefore: new Date(Date.now() - 10 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    const reasons = [
      `${config}: tls.cert: ${files.cert} expired on ${new Date(new X509Certificate(expired.cert).validTo).toISOString()}`,
      `${config}: tls.cert: ${files.cert} was not issued by a CA of the trust bundle`,
      `${config}: tls.cert: ${files.cert} is the certificate of spiffe://gov.in/xbus/broker/b1, ${wanted}`,
      `${config}: tls.cert: ${files.cert} is the certificate of spiffe://gov.bt/agency/dcrc/connector/c1, ${wanted}`,
      `${config}: tls.cert: ${files.cert} is the certificate of spiffe://gov.bt/xbus/broker/b2, not of spiffe://gov.bt/xbus/broker/b1, the identity in force (a renewal keeps the SPIFFE ID; another identity needs a restart)`,
    ] as const;
    const client = consumerClient(exchange);
    /** A Fetch that answers, once broker and connector are back on NATS; the tree head then covers it. */
    const exchanged = async () => {
      const treeSize = async () =>
        (
          (await (
            await fetch(`${reviewUrl}/v1/log/tree-head`, { headers: { authorization: `Bearer ${token}` } })
          ).json()) as { tree_size: number }
        ).tree_size;
      const before = await treeSize();
      await vi.waitFor(
        () =>
          client.fetch(
            {
              service: "dcrc.citizen-record",
              subjectId: population.citizens[1]?.id ?? "",
              purpose: "scholarship-eligibility",
            },
            { deadline: Date.now() + 2000 },
          ),
        { timeout: 30_000, interval: 200 },
      );
      await vi.waitFor(async () => expect(await treeSize()).toBeGreaterThan(before), {
        timeout: 10_000,
        interval: 100,
      });
    };
    try {
      expect(await brokerSerial(exchange)).toBe(original);
      await refused(expired, reasons[0]);
      await refused(brokerOf(createCa({ trustDomain: TD })), reasons[1]);
      await refused(brokerOf(createCa({ trustDomain: "gov.in" })), reasons[2]);
      await refused(
        {
          cert: readFileSync(join(dir, "connector.pem"), "utf8"),
          key: readFileSync(join(dir, "connector-key.pem"), "utf8"),
        },
        reasons[3],
      );
      // Another broker of the federation: it would start, but as a renewal of b1 it is refused.
      await refused(brokerOf(caDir.ca, { spiffeId: `spiffe://${TD}/xbus/broker/b2` }), reasons[4]);
      // A reconnect now would read a connector's certificate from the files: NATS still gets the broker's.
      await restartNats();
      await brokerOnNatsWith(originalPem);
      await exchanged();

      const renewed = renewOver(files);
      await b.waitFor(
        () =>
          logLines(b.stderr()).some((l) => l.msg === "own certificate" && l.cert_serial === renewed.serial),
        "the renewed certificate's log line",
      );
      expect(await brokerSerial(exchange)).toBe(renewed.serial);
      // NATS gets the renewal at the next reconnect, the indexer's connection too.
      await restartNats();
      await brokerOnNatsWith(renewed.certPem);
      await exchanged();

      // One warning per wrong set, each naming the certificate file (a set caught half written, the new key
      // beside the old certificate, may add one of its own).
      for (const r of reasons) expect(refusals().filter((l) => messageOf(l) === r)).toHaveLength(1);
      for (const l of refusals()) expect(l).toMatchObject({ level: "warn", part: "tls", cert: files.cert });
    } finally {
      client.close();
      c.child.kill("SIGTERM");
      b.child.kill("SIGTERM");
    }
    expect(await c.exited).toBe(0);
    expect(await b.exited).toBe(0);
    expect(b.stderr()).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });
});

describe("xbus broker, its certificate renewed while it waits for NATS", () => {
  it("takes the renewal once, serves it when ready and presents it on the NATS connection that ends the wait", {
    timeout: 90_000,
  }, async () => {
    // The bundle with a note above the PEM, as operators keep them: a broker that compared the files with a
    // tidied copy of what it read would see a "renewal" in them that is none.
    const { files, config } = brokerFolder(
      "late-nats",
      `# gov.bt federation CA (xbus certs init)\n${caDir.ca.certPem}`,
    );

    await nats.stop();
    const b = spawnXbus(["broker", "--config", config], "info");
    try {
      await b.waitFor((_, err) => err.includes("NATS is not reachable yet"), "the wait for NATS");
      const renewed = renewOver(files);
      const renewals = () => renewalLines(b.stderr());
      await b.waitFor(
        () => renewals().some((l) => l.cert_serial === renewed.serial),
        "the renewal's log line during the wait",
      );
      expect(b.stdout()).toBe("");

      await nats.restart();
      await b.waitFor((out) => out.includes("\n"), "ready line");
      expect(b.stdout()).toMatch(/^xbus broker: ready as spiffe:\/\/gov\.bt\/xbus\/broker\/b1: /);
      const exchange = /Exchange on (\S+),/.exec(b.stdout())?.[1] ?? "";
      expect(await brokerSerial(exchange)).toBe(renewed.serial);
      // No reconnect needed: the connections made once NATS was up, the indexer's too, present the renewal.
      await brokerOnNatsWith(renewed.certPem);

      b.child.kill("SIGTERM");
      expect(await b.exited).toBe(0);
      // Taken once: one renewal line, then the front door's own line at its start names the renewed
      // certificate and no other; nothing was refused.
      expect(renewals()).toEqual([
        expect.objectContaining({ level: "info", part: "tls", spiffe_id: `spiffe://${TD}/xbus/broker/b1` }),
      ]);
      const own = logLines(b.stderr()).filter((l) => l.msg === "own certificate");
      expect(own.map((l) => l.cert_serial)).toEqual([renewed.serial]);
      expect(b.stderr()).not.toContain("not taken");
      expect(b.stderr()).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    } finally {
      if (b.child.exitCode === null) b.child.kill("SIGTERM");
      if (!nats.running) await nats.restart();
    }
  });
});
