import { execFileSync, spawnSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOOPBACK, openIdentities, tokenHash } from "../../stack/index.js";
import { loadBrokerConfig } from "../broker/config.js";
import { loadConnectorConfig } from "../connector/config.js";
import { loadLogServeConfig } from "../log/serve-config.js";

/*
 * deploy/xbus's example settings are what an operator starts from: each one loads with the command's own
 * reader once the files it names exist (certificates from a real CA folder, keys, the log's secret), so an
 * example that drifts from the settings it documents fails here. The systemd units pass
 * `systemd-analyze verify` (systemd's own checker; on this project's machines it is installed with systemd).
 */
const repo = join(import.meta.dirname, "..", "..");
const deploy = (...p: string[]) => join(repo, "deploy", ...p);
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xbus-deploy-"));
  const ids = openIdentities(join(dir, "state"));
  const put = (name: string, p: { certPath: string; keyPath: string }) => {
    copyFileSync(p.certPath, join(dir, `${name}.pem`));
    copyFileSync(p.keyPath, join(dir, `${name}-key.pem`));
  };
  copyFileSync(ids.caPath, join(dir, "federation-ca.pem"));
  copyFileSync(ids.caDir.paths.crl, join(dir, "crl.pem"));
  put(
    "broker",
    ids.issueIdentity("broker", { role: "broker", spiffeId: "spiffe://gov.bt/xbus/broker/b1", ...LOOPBACK }),
  );
  put(
    "log-service",
    ids.issueIdentity("log", { role: "broker", spiffeId: "spiffe://gov.bt/xbus/broker/log1", ...LOOPBACK }),
  );
  put(
    "connector",
    ids.issueIdentity("connector", {
      role: "connector",
      spiffeId: "spiffe://gov.bt/agency/dcrc/connector/c1",
    }),
  );
  const signing = generateKeyPairSync("ed25519");
  writeFileSync(
    join(dir, "broker-signing.pem"),
    signing.privateKey.export({ type: "pkcs8", format: "pem" }),
    { mode: 0o600 },
  );
  writeFileSync(
    join(dir, "broker-signing.pub.pem"),
    signing.publicKey.export({ type: "spki", format: "pem" }),
  );
  const logKey = generateKeyPairSync("ed25519").privateKey;
  writeFileSync(join(dir, "log-key.pem"), logKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  writeFileSync(join(dir, "log-secret"), randomBytes(32).toString("hex"), { mode: 0o600 });
  writeFileSync(join(dir, "review-tokens"), `${tokenHash("a-reviewer-token")}\n`);
  mkdirSync(join(dir, "data"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The example with its absolute places moved into the test's folder (the repository's policies). */
function example(name: string): string {
  const text = readFileSync(deploy("xbus", name), "utf8")
    .replaceAll('"/var/lib/xbus/', `"${join(dir, "data")}/`)
    .replaceAll('"/etc/xbus/policies"', JSON.stringify(join(repo, "policies")));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("deploy/xbus's examples load with their commands' readers", () => {
  it("broker.json: a stateless broker on the core at R3 with no log key, no index, no review API", () => {
    const cfg = loadBrokerConfig(example("broker.json"));
    expect(cfg.replicas).toBe(3);
    expect(cfg.servers).toHaveLength(3);
    expect(cfg.logService).toBeUndefined();
    expect(cfg.rates).toBe("federation");
  });
  it("log-service.json: the log's key, secret and index, the review API on loopback", () => {
    const cfg = loadLogServeConfig(example("log-service.json"));
    expect(cfg.logId).toBe("gov.bt/xbus-log");
    expect(cfg.servers).toHaveLength(3);
    expect(cfg.leaseMs).toBe(3000);
  });
  it("connector.json: one agency's connector on its leaf node", () => {
    const cfg = loadConnectorConfig(example("connector.json"));
    expect(cfg.agency).toBe("dcrc");
  });
  it("every example in deploy/xbus is loaded above", () => {
    expect(readdirSync(deploy("xbus")).sort()).toEqual(["broker.json", "connector.json", "log-service.json"]);
  });
});

describe("deploy/systemd's units", () => {
  const analyze = spawnSync("systemd-analyze", ["--version"]);
  const units = readdirSync(deploy("systemd")).filter((f) => f.endsWith(".service"));
  it("are one per process the federation runs", () => {
    expect(units.sort()).toEqual([
      "nats-server.service",
      "xbus-broker.service",
      "xbus-connector.service",
      "xbus-log.service",
    ]);
  });
  it("pass systemd-analyze verify, which refuses a broken unit", () => {
    if (analyze.error) {
      // No systemd on this machine: the units are at least well-formed sections of key=value lines.
      for (const u of units)
        for (const line of readFileSync(deploy("systemd", u), "utf8").split("\n"))
          expect(line === "" || line.startsWith("#") || /^\[\w+\]$/.test(line) || /^\w+=/.test(line)).toBe(
            true,
          );
      return;
    }
    const broken = join(dir, "broken.service");
    writeFileSync(broken, "[Service]\nExecStart=relative/xbus\n");
    expect(spawnSync("systemd-analyze", ["verify", broken]).status).not.toBe(0);
    for (const u of units)
      execFileSync("systemd-analyze", ["verify", deploy("systemd", u)], { stdio: "pipe" });
  });
});
