import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueCertificate } from "../../certs/index.js";
import { cosignerVkey } from "../../core/log-format/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import { tokenHash } from "../../stack/index.js";
import { ConfigError } from "../config/settings.js";
import { loadLogServeConfig } from "./serve-config.js";

/* The settings of `xbus log serve`: a good file loads, and a refusal names the setting and never a secret. */
let dir: string;
const SECRET = "cd".repeat(32);
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const good = () => ({
  trust_domain: "gov.bt",
  nats: ["tls://nats.xbus.gov.bt:4222"],
  tls: { ca: "ca.pem", cert: "svc.pem", key: "svc-key.pem" },
  log: { id: "gov.bt/xbus-log", secret: "log-secret", key: "log-key.pem", index: "data/index.sqlite" },
  review: { listen: "127.0.0.1:8080", token_hashes: "tokens" },
});
function refusal(settings: unknown): string {
  try {
    loadLogServeConfig(write("log-service.json", JSON.stringify(settings)));
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
  dir = mkdtempSync(join(tmpdir(), "xbus-log-serve-config-"));
  const ca = createCa({ trustDomain: "gov.bt" });
  write("ca.pem", ca.certPem);
  const c = issueCertificate(ca, {
    spiffeId: "spiffe://gov.bt/xbus/broker/log1",
    commonName: "log",
    usage: "client",
  });
  write("svc.pem", c.certPem);
  const server = issueCertificate(ca, {
    commonName: "review",
    usage: "server",
    dnsNames: ["review.example"],
  });
  write("review.pem", server.certPem);
  write("review-key.pem", server.keyPem);
  write("svc-key.pem", c.keyPem);
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  write("log-key.pem", privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  write("log-key.pub.pem", publicKey.export({ type: "spki", format: "pem" }).toString());
  write("log-secret", `${SECRET}\n`);
  write("tokens", `${tokenHash("a-reviewer-token-1")}\n`);
  mkdirSync(join(dir, "data"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadLogServeConfig", () => {
  it("loads a good file: the log's key and secret, the index, the review API, the default lease", () => {
    const cfg = loadLogServeConfig(write("log-service.json", JSON.stringify(good())));
    expect(cfg).toMatchObject({
      servers: ["tls://nats.xbus.gov.bt:4222"],
      spiffeId: "spiffe://gov.bt/xbus/broker/log1",
      logId: "gov.bt/xbus-log",
      indexPath: join(dir, "data/index.sqlite"),
      review: { hostname: "127.0.0.1", port: 8080, tokenHashes: [tokenHash("a-reviewer-token-1")] },
      leaseMs: undefined,
    });
    expect(cfg.logKey.asymmetricKeyType).toBe("ed25519");
    expect(cfg.logSecret.toString("hex")).toBe(SECRET);
    const flagged = loadLogServeConfig(write("log-service.json", JSON.stringify(good())), {
      "lease-ms": "5000",
    });
    expect(flagged.leaseMs).toBe(5000);
  });

  it("refuses what would fail later, naming the setting", () => {
    const path = join(dir, "log-service.json");
    const { key: _key, ...noKey } = good().log;
    expect(refusal({ ...good(), log: noKey })).toBe(`${path}: log.key: is required`);
    expect(refusal({ ...good(), log: { ...good().log, key: "log-key.pub.pem" } })).toContain("log.key: ");
    expect(refusal({ ...good(), log: { ...good().log, index: "nowhere/index.sqlite" } })).toBe(
      `${path}: log.index: the folder of ${join(dir, "nowhere/index.sqlite")} does not exist`,
    );
    expect(refusal({ ...good(), signer: { lease_ms: 10 } })).toBe(
      `${path}: signer.lease_ms: must be a whole number from 1000 to 600000`,
    );
    expect(refusal({ ...good(), signer: { lease: 3000 } })).toContain('unknown setting "signer.lease"');
  });

  it("reads the witness policy: its witnesses with a URL are asked, https ones checked against tls.ca", () => {
    const w = cosignerVkey("w1.example", rawEd25519(generateKeyPairSync("ed25519").publicKey));
    write("policy", `witness W1 ${w} https://w1.example:7380\nquorum W1\n`);
    const cfg = loadLogServeConfig(
      write("log-service.json", JSON.stringify({ ...good(), witnessing: { policy: "policy" } })),
    );
    expect(cfg.witnessing?.policy.quorum).toBe("W1");
    expect(cfg.witnessing?.ca).toContain("BEGIN CERTIFICATE");
    write("policy-no-url", `witness W1 ${w}\nquorum W1\n`);
    expect(refusal({ ...good(), witnessing: { policy: "policy-no-url" } })).toBe(
      `${join(dir, "log-service.json")}: witnessing.policy: ${join(dir, "policy-no-url")}: the witness policy names no witness with a URL (witness <name> <vkey> <url>)`,
    );
    write("policy-bad", "quorum W9\n");
    expect(refusal({ ...good(), witnessing: { policy: "policy-bad" } })).toMatch(
      /witnessing\.policy: .*policy line 1: W9 is not defined on an earlier line$/,
    );
    expect(refusal({ ...good(), witnessing: { alert_seconds: 10 } })).toMatch(
      /witnessing\.alert_seconds: needs witnessing\.policy$/,
    );
  });

  it("listens beyond loopback only over TLS or with review.allow_insecure_http, and loads the certificate", () => {
    const path = join(dir, "log-service.json");
    const wide = { ...good().review, listen: "0.0.0.0:8443" };
    expect(refusal({ ...good(), review: wide })).toMatch(
      new RegExp(
        `^${path}: review\\.listen: the review API will not listen on 0\\.0\\.0\\.0 over plain HTTP`,
      ),
    );
    const insecure = loadLogServeConfig(
      write(
        "log-service.json",
        JSON.stringify({ ...good(), review: { ...wide, allow_insecure_http: true } }),
      ),
    );
    expect(insecure.review).toMatchObject({ hostname: "0.0.0.0", allowInsecureHttp: true });
    const tls = loadLogServeConfig(
      write(
        "log-service.json",
        JSON.stringify({ ...good(), review: { ...wide, tls_cert: "review.pem", tls_key: "review-key.pem" } }),
      ),
    );
    expect(tls.review.tls?.cert).toContain("BEGIN CERTIFICATE");
    expect(refusal({ ...good(), review: { ...wide, tls_cert: "review.pem" } })).toBe(
      `${path}: review.tls_key: is required with review.tls_cert`,
    );
    expect(refusal({ ...good(), review: { ...wide, tls_cert: "review.pem", tls_key: "svc-key.pem" } })).toBe(
      `${path}: review.tls_key: ${join(dir, "svc-key.pem")} is not the key of ${join(dir, "review.pem")}`,
    );
    expect(refusal({ ...good(), review: { ...wide, allow_insecure_http: "yes" } })).toContain(
      "review.allow_insecure_http: must be true or false",
    );
  });
});
