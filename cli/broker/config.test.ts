import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerTlsCheck } from "../../broker/index.js";
import { createCa, issueCertificate } from "../../certs/index.js";
import { silentLogger } from "../../core/index.js";
import { cosignerVkey } from "../../core/log-format/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import { watchTlsFiles } from "../../core/tls/index.js";
import { tokenHash } from "../../stack/index.js";
import { ConfigError, type Flags } from "../config/settings.js";
import { loadBrokerConfig } from "./config.js";

/* The settings of `xbus broker`: every refusal names the setting and its file, and never shows a secret. */
let dir: string;
let ca: ReturnType<typeof createCa>;
const SECRET = "ab".repeat(32);

const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const good = () => ({
  trust_domain: "gov.bt",
  listen: "0.0.0.0:8443",
  nats: ["tls://nats.xbus.gov.bt:4222"],
  tls: { ca: "ca.pem", cert: "broker.pem", key: "broker-key.pem" },
  signing_key: "signing.pem",
  log: { id: "gov.bt/xbus-log", secret: "log-secret", key: "log-key.pem", index: "data/log-index.sqlite" },
  policies: "policies",
  review: { listen: "127.0.0.1:8080", token_hashes: "tokens" },
});

const read = (name: string) => readFileSync(join(dir, name), "utf8");

function refusal(settings: unknown, flags: Flags = {}): string {
  const path = write("broker.json", JSON.stringify(settings));
  try {
    loadBrokerConfig(path, flags);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toMatch(/BEGIN|PRIVATE KEY/);
    expect(message).not.toContain(SECRET);
    return message;
  }
  throw new Error("expected the settings to be refused");
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xbus-broker-config-"));
  ca = createCa({ trustDomain: "gov.bt" });
  write("ca.pem", ca.certPem);
  for (const [name, spiffeId] of [
    ["broker", "spiffe://gov.bt/xbus/broker/b1"],
    ["connector", "spiffe://gov.bt/agency/dcrc/connector/c1"],
  ] as const) {
    const c = issueCertificate(ca, { spiffeId, commonName: name, usage: "client-server" });
    write(`${name}.pem`, c.certPem);
    write(`${name}-key.pem`, c.keyPem);
  }
  const ed = () => generateKeyPairSync("ed25519");
  write("signing.pem", ed().privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  write("log-key.pem", ed().privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  write("public.pem", ed().publicKey.export({ type: "spki", format: "pem" }).toString());
  write("log-secret", `${SECRET}\n`);
  write("tokens", `# reviewers\n${tokenHash("t1")}\n\n${tokenHash("t2")}\n`);
  mkdirSync(join(dir, "policies"));
  mkdirSync(join(dir, "data"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadBrokerConfig", () => {
  it("loads a good file: broker id from the certificate, the secret's bytes, every token hash", () => {
    const cfg = loadBrokerConfig(write("broker.json", JSON.stringify(good())));
    expect(cfg).toMatchObject({
      trustDomain: "gov.bt",
      spiffeId: "spiffe://gov.bt/xbus/broker/b1",
      brokerId: "b1",
      listen: "0.0.0.0:8443",
      tlsFiles: { ca: join(dir, "ca.pem"), cert: join(dir, "broker.pem"), key: join(dir, "broker-key.pem") },
      log: { logId: "gov.bt/xbus-log" },
      logService: {
        indexPath: join(dir, "data/log-index.sqlite"),
        review: { hostname: "127.0.0.1", port: 8080, tokenHashes: [tokenHash("t1"), tokenHash("t2")] },
      },
      policiesDir: join(dir, "policies"),
    });
    expect(cfg.log.logSecret.toString("hex")).toBe(SECRET);
    expect(cfg.signingKey.asymmetricKeyType).toBe("ed25519");
    expect(cfg.crlPath).toBeUndefined();
    expect(cfg.logService?.review.alerts).toBeUndefined();
  });

  it("runs without the log service (xbus log serve elsewhere): no log key, no index, no review API", () => {
    const { key: _key, index: _index, ...log } = good().log;
    const cfg = loadBrokerConfig(write("broker.json", JSON.stringify({ ...good(), log, review: undefined })));
    expect(cfg.logService).toBeUndefined();
    expect(cfg.log).toEqual({ logId: "gov.bt/xbus-log", logSecret: Buffer.from(SECRET, "hex") });
    expect(refusal({ ...good(), log })).toBe(
      `${join(dir, "broker.json")}: log.key: is required with review.listen, review.token_hashes: the log service runs in the broker's process with all of log.key, log.index, review.listen, review.token_hashes, or elsewhere (xbus log serve) with none`,
    );
  });

  it("takes the replicas the log stream and consent bucket must have: 1 unless set, 1 to 5", () => {
    expect(loadBrokerConfig(write("broker.json", JSON.stringify(good()))).replicas).toBe(1);
    expect(loadBrokerConfig(write("broker.json", JSON.stringify({ ...good(), replicas: 3 }))).replicas).toBe(
      3,
    );
    expect(refusal({ ...good(), replicas: 7 })).toBe(
      `${join(dir, "broker.json")}: replicas: must be a whole number from 1 to 5`,
    );
  });

  it("takes a witness policy for the log service in its process, and refuses one without it", () => {
    const w = cosignerVkey("w1.example", rawEd25519(generateKeyPairSync("ed25519").publicKey));
    write("witness-policy", `witness W1 ${w} https://w1.example:7380\nquorum W1\n`);
    const cfg = loadBrokerConfig(write("broker.json", JSON.stringify(good())), {
      "witness-policy": join(dir, "witness-policy"),
    });
    expect(cfg.logService?.witnessing?.policy.quorum).toBe("W1");
    expect(cfg.logService?.witnessing?.ca).toBe(ca.certPem);
    const { key: _key, index: _index, ...log } = good().log;
    expect(refusal({ ...good(), log, review: undefined, witnessing: { policy: "witness-policy" } })).toBe(
      `${join(dir, "broker.json")}: witnessing.policy: is a setting of the log service, which this broker does not run (no log.key)`,
    );
  });

  it("takes the office hours' time zone of off-hours alerts, and refuses one that is not a zone", () => {
    const zoned = { ...good(), review: { ...good().review, alerts_time_zone: "Asia/Thimphu" } };
    expect(loadBrokerConfig(write("broker.json", JSON.stringify(zoned))).logService?.review.alerts).toEqual({
      offHours: { timeZone: "Asia/Thimphu" },
    });
    const flagged = loadBrokerConfig(write("broker.json", JSON.stringify(good())), {
      "alerts-time-zone": "Europe/Tallinn",
    });
    expect(flagged.logService?.review.alerts).toEqual({ offHours: { timeZone: "Europe/Tallinn" } });
    expect(refusal({ ...good(), review: { ...good().review, alerts_time_zone: "Mars/Olympus" } })).toBe(
      `${join(dir, "broker.json")}: review.alerts_time_zone: "Mars/Olympus" is not an IANA time zone (e.g. Asia/Thimphu)`,
    );
  });

  it("takes the log's bounds from the file or flags, and refuses one out of range", () => {
    expect(loadBrokerConfig(write("broker.json", JSON.stringify(good()))).logLimits).toEqual({});
    const bounded = {
      ...good(),
      log_limits: { max_bytes: 10 * 1024 ** 3, retry_queue_bytes: 8 * 1024 ** 2 },
    };
    expect(loadBrokerConfig(write("broker.json", JSON.stringify(bounded))).logLimits).toEqual({
      maxBytes: 10 * 1024 ** 3,
      retryQueueBytes: 8 * 1024 ** 2,
    });
    expect(
      loadBrokerConfig(write("broker.json", JSON.stringify(good())), { "log-max-bytes": "2097152" })
        .logLimits,
    ).toEqual({ maxBytes: 2097152 });
    expect(refusal({ ...good(), log_limits: { max_bytes: 10 } })).toBe(
      `${join(dir, "broker.json")}: log_limits.max_bytes: must be a whole number from 1048576 to ${Number.MAX_SAFE_INTEGER}`,
    );
  });

  it("refuses what would fail later, naming the setting", () => {
    const path = join(dir, "broker.json");
    expect(refusal({ ...good(), signing_key: "missing.pem" })).toBe(
      `${path}: signing_key: cannot read ${join(dir, "missing.pem")} (no such file)`,
    );
    expect(refusal({ ...good(), signing_key: "public.pem" })).toContain("signing_key: ");
    expect(
      refusal({ ...good(), tls: { ...good().tls, cert: "connector.pem", key: "connector-key.pem" } }),
    ).toContain(
      "is the certificate of spiffe://gov.bt/agency/dcrc/connector/c1, not of a broker of trust domain gov.bt",
    );
    expect(refusal({ ...good(), trust_domain: "gov.in" })).toContain(
      "not of a broker of trust domain gov.in",
    );
    write("short-secret", "abcd");
    expect(refusal({ ...good(), log: { ...good().log, secret: "short-secret" } })).toBe(
      `${path}: log.secret: ${join(dir, "short-secret")} must hold at least 32 bytes as hex (e.g. \`openssl rand -hex 32\`)`,
    );
    write("bad-tokens", "not-a-hash\n");
    expect(refusal({ ...good(), review: { ...good().review, token_hashes: "bad-tokens" } })).toContain(
      "hash 1 is not a lowercase hex SHA-256",
    );
    expect(refusal({ ...good(), policies: "nowhere" })).toBe(
      `${path}: policies: ${join(dir, "nowhere")} is not a folder`,
    );
    expect(refusal({ ...good(), log: { ...good().log, index: "no/such/index.sqlite" } })).toContain(
      "log.index: the folder of",
    );
    expect(refusal({ ...good(), crl: "ca.pem" })).toContain("holds no PEM CRL");
    expect(refusal({ ...good(), log: { ...good().log, secrte: "x" } })).toContain(
      'unknown setting "log.secrte"',
    );
    expect(refusal(good(), { listen: "8443" })).toBe('--listen: must be HOST:PORT, got "8443"');
  });

  it("checks tls.* text read again after a change as at start, naming the setting and the file", () => {
    const path = join(dir, "broker.json");
    const cfg = loadBrokerConfig(write("broker.json", JSON.stringify(good())));
    const atStart = { ca: ca.certPem, cert: read("broker.pem"), key: read("broker-key.pem") };
    const broker = (
      issuer: ReturnType<typeof createCa>,
      o: Partial<Parameters<typeof issueCertificate>[1]> = {},
    ) =>
      issueCertificate(issuer, {
        spiffeId: `spiffe://${issuer.trustDomain}/xbus/broker/b1`,
        commonName: "renewed",
        usage: "client-server",
        ...o,
      });
    const renewed = broker(ca);
    expect(() => cfg.checkTls({ ...atStart, cert: renewed.certPem, key: renewed.keyPem })).not.toThrow();

    /** The ConfigError message of a reload of this text. */
    const refused = (pem: Partial<typeof atStart>, at?: Date) => {
      try {
        cfg.checkTls({ ...atStart, ...pem }, at);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).not.toMatch(/BEGIN|PRIVATE KEY|CERTIFICATE-----/);
        return (err as Error).message;
      }
      throw new Error("expected the reload to be refused");
    };
    const certFile = join(dir, "broker.pem");
    const wanted = "not of a broker of trust domain gov.bt (spiffe://gov.bt/xbus/broker/<name>)";
    expect(refused({ cert: read("connector.pem"), key: read("connector-key.pem") })).toBe(
      `${path}: tls.cert: ${certFile} is the certificate of spiffe://gov.bt/agency/dcrc/connector/c1, ${wanted}`,
    );
    const DAY = 86_400_000;
    const expired = broker(ca, {
      notBefore: new Date(Date.now() - 10 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    expect(refused({ cert: expired.certPem, key: expired.keyPem })).toBe(
      `${path}: tls.cert: ${certFile} expired on ${new Date(new X509Certificate(expired.certPem).validTo).toISOString()}`,
    );
    const foreign = broker(createCa({ trustDomain: "gov.bt" }));
    expect(refused({ cert: foreign.certPem, key: foreign.keyPem })).toBe(
      `${path}: tls.cert: ${certFile} was not issued by a CA of the trust bundle`,
    );
    const otherDomain = broker(createCa({ trustDomain: "gov.in" }));
    expect(refused({ cert: otherDomain.certPem, key: otherDomain.keyPem })).toBe(
      `${path}: tls.cert: ${certFile} is the certificate of spiffe://gov.in/xbus/broker/b1, ${wanted}`,
    );
    // Half written: the new certificate, the old key.
    expect(refused({ cert: renewed.certPem })).toBe(
      `${path}: tls.key: ${join(dir, "broker-key.pem")} is not the key of the certificate in ${certFile}`,
    );
    expect(refused({}, new Date(Date.now() + 400 * DAY))).toMatch(/tls\.cert: .* expired on /);
    // Another broker of the trust domain would start, but a renewal keeps the broker's identity.
    const b2 = broker(ca, { spiffeId: "spiffe://gov.bt/xbus/broker/b2" });
    const anotherBroker = `is the certificate of spiffe://gov.bt/xbus/broker/b2, not of spiffe://gov.bt/xbus/broker/b1, the identity in force (a renewal keeps the SPIFFE ID; another identity needs a restart)`;
    expect(refused({ cert: b2.certPem, key: b2.keyPem })).toBe(
      `${path}: tls.cert: ${certFile} ${anotherBroker}`,
    );

    // xbus dev's broker has no settings: the same checks, the reason naming the file.
    const check = brokerTlsCheck("gov.bt", cfg.tlsFiles, "spiffe://gov.bt/xbus/broker/b1");
    expect(() => check({ ...atStart, cert: renewed.certPem, key: renewed.keyPem })).not.toThrow();
    expect(() => check({ ...atStart, cert: otherDomain.certPem, key: otherDomain.keyPem })).toThrow(
      new Error(`${certFile} is the certificate of spiffe://gov.in/xbus/broker/b1, ${wanted}`),
    );
    expect(() => check({ ...atStart, cert: b2.certPem, key: b2.keyPem })).toThrow(
      new Error(`${certFile} ${anotherBroker}`),
    );
  });

  it("keeps the files' text as read, so an unchanged reload is no change", () => {
    // A bundle as operators keep them: a note above the PEM, which the checks skip and a reload reads again.
    const bundle = `# gov.bt federation CA\n${ca.certPem}`;
    write("ca-noted.pem", bundle);
    const cfg = loadBrokerConfig(
      write("broker.json", JSON.stringify({ ...good(), tls: { ...good().tls, ca: "ca-noted.pem" } })),
    );
    expect(cfg.tls).toEqual({ ca: bundle, cert: read("broker.pem"), key: read("broker-key.pem") });
    const taken: unknown[] = [];
    const watcher = watchTlsFiles({
      paths: cfg.tlsFiles,
      current: cfg.tls,
      check: (pem) => cfg.checkTls(pem),
      onChange: (pem) => taken.push(pem),
      logger: silentLogger,
    });
    expect(watcher.reload()).toBe(false);
    watcher.close();
    expect(taken).toEqual([]);
  });
});
