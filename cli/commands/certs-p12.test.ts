import { spawnSync } from "node:child_process";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeTerminal } from "../../test/helpers/terminal.js";
import { runCerts } from "./certs.js";

/*
 * `xbus certs issue --p12` and `--key-type`: the keystore an agency system on
 * Java or .NET imports, read back by openssl with the password file, holding
 * the issued key, its certificate and the chain to the root.
 */
let tmp: string;
let caDir: string;
let passwordFile: string;
const PASSWORD = "correct horse battery";

async function certs(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCerts(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

function openssl(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const spki = (pem: string) => createPublicKey(pem).export({ type: "spki", format: "der" }).toString("base64");

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "xbus-p12-"));
  caDir = join(tmp, "ca");
  passwordFile = join(tmp, "p12-password");
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  const r = await certs("init", "--ca-dir", caDir, "--trust-domain", "gov.bt", "--intermediate");
  expect(r.err).toBe("");
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("xbus certs issue --p12", () => {
  it.each(["ecdsa", "ed25519", "rsa"])(
    "writes a %s key, its certificate and the chain that openssl reads back with the password",
    async (keyType) => {
      const out = join(tmp, keyType);
      const r = await certs(
        "issue",
        "--ca-dir",
        caDir,
        "--role",
        "connector",
        "--agency",
        "dcrc",
        "--name",
        keyType,
        "--key-type",
        keyType,
        "--out",
        out,
        "--p12",
        "--p12-password-file",
        passwordFile,
      );
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const p12 = join(out, `agency-dcrc-connector-${keyType}.p12`);
      expect(r.out).toContain(p12);
      expect(statSync(p12).mode & 0o777).toBe(0o600);
      const certPem = readFileSync(join(out, `agency-dcrc-connector-${keyType}.pem`), "utf8");
      const keyPem = readFileSync(join(out, `agency-dcrc-connector-${keyType}-key.pem`), "utf8");
      expect(createPrivateKey(keyPem).asymmetricKeyType).toBe(keyType === "ecdsa" ? "ec" : keyType);

      const certs12 = openssl("pkcs12", "-in", p12, "-passin", `file:${passwordFile}`, "-nokeys");
      expect(certs12.status).toBe(0);
      const chain = certs12.out.match(CERT_BLOCK) ?? [];
      const bundle = readFileSync(join(caDir, "ca.pem"), "utf8").match(CERT_BLOCK) ?? [];
      // Leaf, issuing CA, root: the chain up from the certificate.
      expect(chain.map((c) => new X509Certificate(c).fingerprint256)).toEqual(
        [certPem, ...[...bundle].reverse()].map((c) => new X509Certificate(c).fingerprint256),
      );
      expect(certs12.out).toContain("friendlyName: spiffe://gov.bt/agency/dcrc/connector/");

      const keys12 = openssl("pkcs12", "-in", p12, "-passin", `file:${passwordFile}`, "-nodes", "-nocerts");
      expect(keys12.status).toBe(0);
      const keyOut =
        /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(keys12.out)?.[0] ?? "";
      // The key in the keystore is the certificate's key.
      expect(spki(keyOut)).toBe(spki(certPem));

      writeFileSync(join(tmp, "wrong"), "not the password\n");
      expect(
        openssl("pkcs12", "-in", p12, "-passin", `file:${join(tmp, "wrong")}`, "-nokeys").status,
      ).not.toBe(0);
    },
  );

  it("asks for the password twice on a terminal", async () => {
    const out = join(tmp, "asked");
    const issue = (terminal: ReturnType<typeof fakeTerminal>) => {
      let err = "";
      const args = ["issue", "--ca-dir", caDir, "--role", "system", "--agency", "moe", "--name", "asked"];
      return runCerts([...args, "--out", out, "--p12"], {
        out: () => {},
        err: (t) => (err += t),
        terminal,
      }).then((code) => ({ code, err }));
    };
    const differ = await issue(fakeTerminal([`${PASSWORD}\r`, "something else\r"]));
    expect(differ).toEqual({ code: 1, err: expect.stringMatching(/the two passwords differ/) });
    expect(existsSync(join(out, "agency-moe-system-asked.pem"))).toBe(false);

    const asked = await issue(fakeTerminal([`${PASSWORD}\r`, `${PASSWORD}\r`]));
    expect(asked.code).toBe(0);
    expect(asked.err).toBe("PKCS#12 password: \nagain: \n");
    const p12 = join(out, "agency-moe-system-asked.p12");
    expect(openssl("pkcs12", "-in", p12, "-passin", `file:${passwordFile}`, "-nokeys").status).toBe(0);
  });

  it("refuses, before the CA records anything, a password it cannot use", async () => {
    const ledger = () => readFileSync(join(caDir, "ledger.jsonl"), "utf8");
    const before = ledger();
    const issue = (...extra: string[]) =>
      certs(
        "issue",
        "--ca-dir",
        caDir,
        "--role",
        "system",
        "--agency",
        "moe",
        "--name",
        "x",
        "--out",
        tmp,
        ...extra,
      );

    writeFileSync(join(tmp, "short"), "short\n");
    const short = await issue("--p12", "--p12-password-file", join(tmp, "short"));
    expect(short.code).toBe(1);
    expect(short.err).toMatch(/at least 8 characters/);

    const missing = await issue("--p12", "--p12-password-file", join(tmp, "absent"));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot read .*absent: no such file/);

    const stray = await issue("--p12-password-file", passwordFile);
    expect(stray.code).toBe(2);
    expect(stray.err).toMatch(/--p12-password-file goes with --p12/);

    // The tests run without a terminal: nobody to ask.
    const noTerminal = await issue("--p12");
    expect(noTerminal.code).toBe(2);
    expect(noTerminal.err).toMatch(/--p12 needs --p12-password-file FILE/);

    const badType = await issue("--key-type", "dsa");
    expect(badType.code).toBe(2);
    expect(badType.err).toMatch(/--key-type must be one of ecdsa, ed25519, rsa/);

    expect(ledger()).toBe(before);
    expect(existsSync(join(tmp, "agency-moe-system-x.pem"))).toBe(false);
    expect(existsSync(join(tmp, "agency-moe-system-x.p12"))).toBe(false);
  });
});
