import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CertificateAuthority, createCa, issueCertificate } from "../../certs/index.js";
import type { Flags } from "../config/settings.js";
import { ConfigError, loadConnectorConfig } from "./config.js";

/*
 * The settings of `xbus connector`, checked before anything starts: every
 * refusal names the setting and where it came from, and never shows a key.
 */
let dir: string;
let ca: CertificateAuthority;
const files: Record<string, string> = {};

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function pair(name: string, spiffeId: string | undefined, from = ca, extra: { notAfter?: Date } = {}) {
  const c = issueCertificate(from, {
    ...(spiffeId ? { spiffeId } : {}),
    commonName: name,
    usage: "client",
    ...extra,
  });
  files[`${name}.pem`] = write(`${name}.pem`, c.certPem);
  files[`${name}-key.pem`] = write(`${name}-key.pem`, c.keyPem);
}

const good = () => ({
  agency: "dcrc",
  trust_domain: "gov.bt",
  nats: ["nats://nats.gov.bt:4222", "tls://10.0.0.7:4222"],
  tls: { ca: "ca.pem", cert: "connector.pem", key: "connector-key.pem" },
  broker_keys: ["broker-a.pub.pem", "broker-b.pub.pem"],
  adapter: { address: "adapter.dcrc.gov.bt:50051", server_name: "adapter.dcrc.gov.bt" },
  max_in_flight: 64,
  metrics: { port: 9464 },
});

function configFile(settings: unknown, name = "connector.json"): string {
  return write(name, JSON.stringify(settings));
}

/** The ConfigError message of loading these settings (fails the test if they load). */
function refusal(settings: unknown, flags: Flags = {}, now?: Date): string {
  const path = configFile(settings);
  try {
    loadConnectorConfig(path, flags, now);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toMatch(/BEGIN|PRIVATE KEY|CERTIFICATE-----/);
    return message;
  }
  throw new Error("expected the settings to be refused");
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xbus-connector-config-"));
  ca = createCa({ trustDomain: "gov.bt" });
  files["ca.pem"] = write("ca.pem", ca.certPem);
  pair("connector", "spiffe://gov.bt/agency/dcrc/connector/c1");
  pair("connector-moh", "spiffe://gov.bt/agency/moh/connector/c1");
  pair("system-dcrc", "spiffe://gov.bt/agency/dcrc/system/registry");
  pair("foreign", "spiffe://gov.bt/agency/dcrc/connector/c1", createCa({ trustDomain: "gov.bt" }));
  pair("other-domain", "spiffe://gov.in/agency/dcrc/connector/c1", createCa({ trustDomain: "gov.in" }));
  for (const n of ["a", "b"]) {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    write(`broker-${n}.pub.pem`, publicKey.export({ type: "spki", format: "pem" }).toString());
    write(`broker-${n}.key.pem`, privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  }
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  write("broker-rsa.pub.pem", rsa.publicKey.export({ type: "spki", format: "pem" }).toString());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadConnectorConfig", () => {
  it("loads a good file: paths relative to it, identity from the certificate, every broker key", () => {
    const cfg = loadConnectorConfig(configFile(good()));
    expect(cfg).toMatchObject({
      agency: "dcrc",
      spiffeId: "spiffe://gov.bt/agency/dcrc/connector/c1",
      name: "c1",
      servers: ["nats://nats.gov.bt:4222", "tls://10.0.0.7:4222"],
      tlsFiles: {
        caFile: files["ca.pem"],
        certFile: files["connector.pem"],
        keyFile: files["connector-key.pem"],
      },
      maxInFlight: 64,
      metrics: { host: "127.0.0.1", port: 9464 },
      adapter: { address: "adapter.dcrc.gov.bt:50051", serverName: "adapter.dcrc.gov.bt" },
    });
    expect(cfg.brokerKeys.map((k) => k.asymmetricKeyType)).toEqual(["ed25519", "ed25519"]);
    // The adapter admits the agency's connector: by default the client presents the NATS identity.
    expect(cfg.adapter.tls.cert).toBe(cfg.certPem);
    expect(cfg.adapter.tls.ca).toContain("BEGIN CERTIFICATE");
  });

  it("takes flags over the file, and works from flags alone", () => {
    const cfg = loadConnectorConfig(configFile(good()), { "max-in-flight": "8", nats: ["nats://a:4222"] });
    expect(cfg.maxInFlight).toBe(8);
    expect(cfg.servers).toEqual(["nats://a:4222"]);
    const flagsOnly = loadConnectorConfig(undefined, {
      agency: "dcrc",
      nats: ["nats://a:4222"],
      ca: files["ca.pem"],
      cert: files["connector.pem"],
      key: files["connector-key.pem"],
      "broker-key": [join(dir, "broker-a.pub.pem")],
      adapter: "localhost:50051",
    });
    expect(flagsOnly.spiffeId).toBe("spiffe://gov.bt/agency/dcrc/connector/c1");
    expect(flagsOnly.metrics).toBeUndefined();
    expect(() => loadConnectorConfig(undefined, {})).toThrow("--agency: is required");
  });

  it("names a missing key file", () => {
    const path = join(dir, "connector.json");
    expect(refusal({ ...good(), tls: { ...good().tls, key: "missing-key.pem" } })).toBe(
      `${path}: tls.key: cannot read ${join(dir, "missing-key.pem")} (no such file)`,
    );
    expect(() => loadConnectorConfig(join(dir, "nope.json"))).toThrow(
      `${join(dir, "nope.json")}: cannot read the config file (no such file)`,
    );
  });

  it("refuses a certificate of another agency, of another role, trust domain or CA", () => {
    const path = join(dir, "connector.json");
    const tls = (name: string) => ({
      ...good(),
      tls: { ca: "ca.pem", cert: `${name}.pem`, key: `${name}-key.pem` },
    });
    expect(refusal(tls("connector-moh"))).toBe(
      `${path}: tls.cert: ${files["connector-moh.pem"]} is the certificate of spiffe://gov.bt/agency/moh/connector/c1, not of a connector of agency dcrc (spiffe://gov.bt/agency/dcrc/connector/<name>)`,
    );
    expect(refusal(tls("system-dcrc"))).toContain(
      "is the certificate of spiffe://gov.bt/agency/dcrc/system/registry, not of a connector of agency dcrc",
    );
    expect(refusal(tls("other-domain"))).toContain("not of a connector of agency dcrc (spiffe://gov.bt/");
    expect(refusal(tls("foreign"))).toBe(
      `${path}: tls.cert: ${files["foreign.pem"]} was not issued by a CA of the trust bundle`,
    );
    // The flag is named when the certificate came from one.
    expect(
      refusal(good(), { cert: files["connector-moh.pem"], key: files["connector-moh-key.pem"] }),
    ).toMatch(/^--cert: /);
  });

  it("refuses a key that is not the certificate's, and an expired certificate", () => {
    expect(refusal({ ...good(), tls: { ...good().tls, key: "connector-moh-key.pem" } })).toContain(
      `tls.key: ${files["connector-moh-key.pem"]} is not the key of the certificate in ${files["connector.pem"]}`,
    );
    expect(refusal({ ...good(), tls: { ...good().tls, key: "ca.pem" } })).toContain(
      `tls.key: ${files["ca.pem"]} is not a PEM private key`,
    );
    expect(refusal(good(), {}, new Date(Date.now() + 400 * 86_400_000))).toMatch(/tls\.cert: .* expired on /);
  });

  it("refuses unknown settings, so a typo does not pass silently", () => {
    const path = join(dir, "connector.json");
    expect(refusal({ ...good(), max_inflight: 8 })).toMatch(
      new RegExp(`^${path}: unknown setting "max_inflight" \\(known: agency, trust_domain, nats, `),
    );
    expect(refusal({ ...good(), tls: { ...good().tls, crt: "x.pem" } })).toContain(
      'unknown setting "tls.crt"',
    );
    expect(refusal([good()])).toBe(`${path}: must be a JSON object of settings`);
    expect(refusal({ ...good(), tls: "connector.pem" })).toBe(`${path}: tls: must be an object`);
    // Before what is missing: a misspelt setting is the likelier cause.
    expect(refusal({ agency: "dcrc", tls: { crt: "x.pem" } })).toContain('unknown setting "tls.crt"');
    writeFileSync(path, "{ agency: dcrc }");
    expect(() => loadConnectorConfig(path)).toThrow(`${path}: not JSON`);
  });

  it("refuses a bad agency name, NATS URL, adapter address, broker key or number", () => {
    const path = join(dir, "connector.json");
    expect(refusal({ ...good(), agency: "DCRC" })).toBe(
      `${path}: agency: "DCRC" is not an agency name (lowercase letters, digits and dashes, starting with a letter)`,
    );
    expect(refusal({ ...good(), agency: "dcrc.>" })).toContain("is not an agency name");
    expect(refusal({ ...good(), nats: ["http://x"] })).toContain('nats: "http://x" is not a NATS URL');
    expect(refusal({ ...good(), nats: [] })).toBe(`${path}: nats: is required (one or more)`);
    expect(refusal({ ...good(), adapter: { address: "adapter" } })).toBe(
      `${path}: adapter.address: must be HOST:PORT, got "adapter"`,
    );
    expect(refusal({ ...good(), broker_keys: ["broker-a.key.pem"] })).toBe(
      `${path}: broker_keys: ${join(dir, "broker-a.key.pem")} is a private key; give the public key`,
    );
    expect(refusal({ ...good(), broker_keys: ["broker-rsa.pub.pem"] })).toContain(
      "is a rsa key; it must be Ed25519",
    );
    expect(refusal({ ...good(), broker_keys: ["ca.pem"] })).toContain(
      "ca.pem is a certificate, not an Ed25519 public key",
    );
    write("garbage.pem", "not a key");
    expect(refusal({ ...good(), broker_keys: ["garbage.pem"] })).toContain(
      "garbage.pem is not a PEM public key",
    );
    expect(refusal({ ...good(), max_in_flight: 0 })).toBe(
      `${path}: max_in_flight: must be a whole number from 1 to 100000`,
    );
    expect(refusal(good(), { "metrics-port": "http" })).toBe(
      "--metrics-port: must be a whole number from 0 to 65535",
    );
  });

  it("checks renewed tls.* text as at start, naming the file; the adapter hop follows unless set apart", () => {
    const path = join(dir, "connector.json");
    const cfg = loadConnectorConfig(configFile(good()));
    const renewed = issueCertificate(ca, {
      spiffeId: "spiffe://gov.bt/agency/dcrc/connector/c1",
      commonName: "renewed",
      usage: "client",
      notAfter: new Date(Date.now() + 30 * 86_400_000),
    });
    const next = cfg.renewed({ ...cfg.tlsPem, cert: renewed.certPem, key: renewed.keyPem });
    expect(next).toMatchObject({
      spiffeId: "spiffe://gov.bt/agency/dcrc/connector/c1",
      certPem: renewed.certPem,
    });
    expect(next.certNotAfter.getTime()).toBeLessThan(cfg.certNotAfter.getTime());
    expect(next.adapterTls).toEqual({ ca: cfg.adapter.tls.ca, cert: renewed.certPem, key: renewed.keyPem });

    /** The ConfigError message of a renewal to this text. */
    const refused = (pem: Partial<typeof cfg.tlsPem>, at?: Date) => {
      try {
        cfg.renewed({ ...cfg.tlsPem, ...pem }, at);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).not.toMatch(/BEGIN|PRIVATE KEY|CERTIFICATE-----/);
        return (err as Error).message;
      }
      throw new Error("expected the renewal to be refused");
    };
    // Half written: the new certificate, the old key.
    expect(refused({ cert: renewed.certPem })).toBe(
      `${path}: tls.key: ${files["connector-key.pem"]} is not the key of the certificate in ${files["connector.pem"]}`,
    );
    const moh = issueCertificate(ca, {
      spiffeId: "spiffe://gov.bt/agency/moh/connector/c1",
      commonName: "moh",
      usage: "client",
    });
    expect(refused({ cert: moh.certPem, key: moh.keyPem })).toBe(
      `${path}: tls.cert: ${files["connector.pem"]} is the certificate of spiffe://gov.bt/agency/moh/connector/c1, not of a connector of agency dcrc (spiffe://gov.bt/agency/dcrc/connector/<name>)`,
    );
    expect(refused({ cert: "garbage" })).toBe(
      `${path}: tls.cert: ${files["connector.pem"]} holds no PEM certificate`,
    );
    expect(refused({ key: cfg.tlsPem.key.slice(0, 60) })).toContain(
      `tls.key: ${files["connector-key.pem"]} is not a PEM private key`,
    );
    // A new bundle without the CA that issued the certificate.
    expect(refused({ ca: createCa({ trustDomain: "gov.bt" }).certPem })).toBe(
      `${path}: tls.cert: ${files["connector.pem"]} was not issued by a CA of the trust bundle`,
    );
    expect(refused({}, new Date(Date.now() + 400 * 86_400_000))).toMatch(/tls\.cert: .* expired on /);
    // Another connector of the agency would start, but a renewal keeps the connector's identity.
    const c2 = issueCertificate(ca, {
      spiffeId: "spiffe://gov.bt/agency/dcrc/connector/c2",
      commonName: "c2",
      usage: "client",
    });
    expect(refused({ cert: c2.certPem, key: c2.keyPem })).toBe(
      `${path}: tls.cert: ${files["connector.pem"]} is the certificate of spiffe://gov.bt/agency/dcrc/connector/c2, not of spiffe://gov.bt/agency/dcrc/connector/c1, the identity in force (a renewal keeps the SPIFFE ID; another identity needs a restart)`,
    );

    // With adapter.ca, adapter.cert and adapter.key of its own, the adapter hop keeps them.
    const apart = loadConnectorConfig(
      configFile({
        ...good(),
        adapter: {
          address: "localhost:50051",
          ca: "ca.pem",
          cert: "connector.pem",
          key: "connector-key.pem",
        },
      }),
    );
    expect(apart.renewed({ ...apart.tlsPem, cert: renewed.certPem, key: renewed.keyPem }).adapterTls).toEqual(
      apart.adapter.tls,
    );
  });

  it("takes a separate adapter client identity only if it is a connector of the agency too", () => {
    const cfg = loadConnectorConfig(
      configFile({
        ...good(),
        adapter: { address: "localhost:50051", cert: "connector.pem", key: "connector-key.pem" },
      }),
    );
    expect(cfg.adapter.tls.cert).toBe(cfg.certPem);
    expect(
      refusal({
        ...good(),
        adapter: { address: "localhost:50051", cert: "connector-moh.pem", key: "connector-moh-key.pem" },
      }),
    ).toMatch(/adapter\.cert: .* not of a connector of agency dcrc/);
    expect(refusal({ ...good(), adapter: { address: "localhost:50051", cert: "connector.pem" } })).toContain(
      "adapter.key: adapter.cert and adapter.key go together",
    );
  });
});
