import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCrl } from "../../certs/index.js";
import { runCerts } from "./certs.js";

/*
 * `xbus certs` end to end, in process: the files it writes are what the
 * broker and openssl read. Every refusal must leave the CA folder as it was.
 */
let tmp: string;
let caDir: string;

async function certs(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCerts(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

/** Every file under the CA folder with its bytes, to prove a refusal changed nothing. */
function snapshot(): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, f.name);
      if (f.isDirectory()) walk(p);
      else files[p] = readFileSync(p, "latin1");
    }
  };
  walk(caDir);
  return files;
}

function openssl(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "xbus-certs-"));
  caDir = join(tmp, "ca");
  const r = await certs("init", "--ca-dir", caDir, "--trust-domain", "gov.bt", "--validity-days", "365");
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("xbus certs", () => {
  it("keeps the CA key at mode 0600 and refuses a second init", async () => {
    expect(statSync(join(caDir, "ca-key.pem")).mode & 0o777).toBe(0o600);
    const before = snapshot();
    const r = await certs("init", "--ca-dir", caDir, "--trust-domain", "gov.bt");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/already holds a CA/);
    expect(snapshot()).toEqual(before);
  });

  it("issues per role with the key usage of the role", async () => {
    const cases = [
      { role: "system", args: ["--agency", "moe", "--name", "scholarships"], eku: ["clientAuth"] },
      { role: "connector", args: ["--agency", "dcrc", "--name", "c1"], eku: ["clientAuth"] },
      { role: "reviewer", args: ["--agency", "rcsc", "--name", "audit"], eku: ["clientAuth"] },
      {
        role: "adapter",
        args: ["--agency", "dcrc", "--name", "a1", "--dns", "localhost"],
        eku: ["serverAuth"],
      },
      {
        role: "broker",
        args: ["--name", "b1", "--dns", "localhost", "--ip", "127.0.0.1"],
        eku: ["serverAuth", "clientAuth"],
      },
      { role: "server", args: ["--dns", "localhost", "--file", "nats"], eku: ["serverAuth"] },
    ];
    for (const c of cases) {
      const r = await certs("issue", "--ca-dir", caDir, "--role", c.role, ...c.args, "--out", tmp);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const certPath = /cert +(\S+)/.exec(r.out)?.[1] ?? "";
      const keyPath = /key +(\S+)/.exec(r.out)?.[1] ?? "";
      expect(statSync(keyPath).mode & 0o777).toBe(0o600);
      const info = JSON.parse((await certs("inspect", certPath, "--json")).out) as {
        extKeyUsage: string[];
        role: string | null;
        daysToExpiry: number;
        serial: string;
      };
      expect(info.extKeyUsage.sort()).toEqual([...c.eku].sort());
      expect(info.role).toBe(c.role === "server" ? null : c.role);
      expect(info.daysToExpiry).toBe(89);
      expect(readFileSync(join(caDir, "certs", `${info.serial}.pem`), "utf8")).toBe(
        readFileSync(certPath, "utf8"),
      );
    }
    const listed = JSON.parse((await certs("list", "--ca-dir", caDir, "--json")).out) as { status: string }[];
    expect(listed.map((c) => c.status)).toEqual(cases.map(() => "valid"));
  });

  it("refuses bad input with an error naming it, and changes nothing", async () => {
    const before = snapshot();
    const refusals: [string[], RegExp][] = [
      [
        ["--role", "system", "--spiffe-id", "spiffe://other.org/agency/moe/system/x"],
        /outside the CA's trust domain gov.bt/,
      ],
      [
        ["--role", "system", "--spiffe-id", "spiffe://gov.bt/agency/moe/connector/x"],
        /names role connector, not system/,
      ],
      [["--role", "system", "--agency", "moe", "--name", "scholarships"], /already has a live certificate/],
      [
        ["--role", "system", "--agency", "moe", "--name", "x2", "--validity-days", "400"],
        /after the CA's own/,
      ],
      [["--role", "system", "--agency", "Bad_Agency", "--name", "x"], /malformed SPIFFE ID/],
      [["--role", "adapter", "--agency", "moe", "--name", "x"], /needs at least one DNS name/],
      [["--role", "system", "--agency", "moe", "--name", "x3", "--dns", "localhost"], /takes no DNS names/],
      [["--role", "emperor", "--agency", "moe", "--name", "x"], /--role must be one of/],
      [
        ["--role", "system", "--agency", "moe", "--name", "x4", "--validity-days", "0"],
        /positive whole number/,
      ],
    ];
    for (const [args, why] of refusals) {
      const r = await certs("issue", "--ca-dir", caDir, ...args, "--out", tmp);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.err).toMatch(why);
    }
    for (const args of [
      ["--serial", "ABCDEF"],
      ["--serial", "not-hex"],
      ["--spiffe-id", "spiffe://gov.bt/agency/moe/system/nobody"],
      ["--serial", "ABCDEF", "--reason", "boredom"],
    ]) {
      const r = await certs("revoke", "--ca-dir", caDir, ...args);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.err).not.toBe("");
    }
    expect((await certs("list", "--ca-dir", join(tmp, "nowhere"))).err).toMatch(/is not a CA folder/);
    expect(snapshot()).toEqual(before);
  });

  it("creates the --out folder, and refuses one it cannot create before the CA records anything", async () => {
    const issueSystem = (name: string, out: string) =>
      certs("issue", "--ca-dir", caDir, "--role", "system", "--agency", "moe", "--name", name, "--out", out);
    const nested = join(tmp, "new", "certs");
    const made = await issueSystem("out1", nested);
    expect(made.err).toBe("");
    expect(made.code).toBe(0);
    expect(existsSync(join(nested, "agency-moe-system-out1-key.pem"))).toBe(true);

    const blocker = join(tmp, "a-file");
    writeFileSync(blocker, "");
    const before = snapshot();
    const refused = await issueSystem("out2", join(blocker, "certs"));
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`--out ${join(blocker, "certs")}: cannot write there`);
    expect(snapshot()).toEqual(before);
    // Nothing was recorded, so the identity is still free to issue.
    expect((await issueSystem("out2", tmp)).code).toBe(0);
  });

  it("revokes by serial and by SPIFFE ID into a signed CRL that openssl agrees with", async () => {
    const good = await certs(
      "issue",
      "--ca-dir",
      caDir,
      "--role",
      "system",
      "--agency",
      "moh",
      "--name",
      "ehr",
      "--out",
      tmp,
    );
    const bad = await certs(
      "issue",
      "--ca-dir",
      caDir,
      "--role",
      "system",
      "--agency",
      "moh",
      "--name",
      "lab",
      "--out",
      tmp,
    );
    const goodPath = /cert +(\S+)/.exec(good.out)?.[1] ?? "";
    const badPath = /cert +(\S+)/.exec(bad.out)?.[1] ?? "";
    const badSerial = /serial (\S+)/.exec(bad.out)?.[1] ?? "";
    const ca = join(caDir, "ca.pem");
    const crl = join(caDir, "crl.pem");
    // Before the revocation openssl accepts both.
    expect(openssl("verify", "-crl_check", "-CAfile", ca, "-CRLfile", crl, badPath).status).toBe(0);

    const r = await certs(
      "revoke",
      "--ca-dir",
      caDir,
      "--serial",
      badSerial.toLowerCase(),
      "--reason",
      "keyCompromise",
    );
    expect(r.code).toBe(0);
    const parsed = parseCrl(readFileSync(crl, "utf8"), readFileSync(ca, "utf8"));
    expect(parsed.revoked.get(badSerial)?.reason).toBe("keyCompromise");
    expect(parsed.revoked.size).toBe(1);

    const okVerdict = openssl("verify", "-crl_check", "-CAfile", ca, "-CRLfile", crl, goodPath);
    expect(okVerdict.status).toBe(0);
    const revokedVerdict = openssl("verify", "-crl_check", "-CAfile", ca, "-CRLfile", crl, badPath);
    expect(revokedVerdict.status).not.toBe(0);
    expect(revokedVerdict.out).toMatch(/certificate revoked/);
    expect(openssl("crl", "-in", crl, "-noout", "-text").out).toMatch(/Key Compromise/);

    // Twice is refused; by SPIFFE ID revokes every live certificate of the identity.
    expect((await certs("revoke", "--ca-dir", caDir, "--serial", badSerial)).err).toMatch(/already revoked/);
    const byId = await certs(
      "revoke",
      "--ca-dir",
      caDir,
      "--spiffe-id",
      "spiffe://gov.bt/agency/moh/system/ehr",
      "--reason",
      "cessationOfOperation",
    );
    expect(byId.code).toBe(0);
    expect(openssl("verify", "-crl_check", "-CAfile", ca, "-CRLfile", crl, goodPath).status).not.toBe(0);
    const list = await certs("list", "--ca-dir", caDir, "--status", "revoked");
    expect(list.out.trim().split("\n")).toHaveLength(2);
  });

  it("renews a live identity only when asked to, and numbers CRLs upward", async () => {
    const args = ["issue", "--ca-dir", caDir, "--role", "connector", "--agency", "dcrc", "--name", "c1"];
    expect((await certs(...args, "--out", tmp, "--file", "c1-again")).err).toMatch(
      /already has a live certificate/,
    );
    const renewed = await certs(
      ...args,
      "--out",
      tmp,
      "--file",
      "c1-renewed",
      "--renew",
      "--validity-days",
      "30",
    );
    expect(renewed.code).toBe(0);
    const x = new X509Certificate(readFileSync(join(tmp, "c1-renewed.pem")));
    expect(x.subjectAltName).toBe("URI:spiffe://gov.bt/agency/dcrc/connector/c1");
    const first =
      parseCrl(readFileSync(join(caDir, "crl.pem")), readFileSync(join(caDir, "ca.pem"), "utf8")).number ?? 0;
    const out = join(tmp, "published.crl.pem");
    expect((await certs("crl", "--ca-dir", caDir, "--out", out)).code).toBe(0);
    const next = parseCrl(readFileSync(out), readFileSync(join(caDir, "ca.pem"), "utf8"));
    expect(next.number).toBe(first + 1);
    expect(next.revoked.size).toBe(2);
  });

  it("lets one command at a time write, and takes over a lock its holder left behind", async () => {
    const lock = join(caDir, ".lock");
    const args = [
      "issue",
      "--ca-dir",
      caDir,
      "--role",
      "reviewer",
      "--agency",
      "rcsc",
      "--name",
      "r2",
      "--out",
      tmp,
    ];
    writeFileSync(lock, String(process.ppid)); // a live process
    const before = snapshot();
    const busy = await certs(...args);
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/is locked by another xbus certs command \(pid \d+\)/);
    expect(snapshot()).toEqual(before);
    writeFileSync(lock, String(spawnSync("true").pid)); // a process that has exited
    expect((await certs(...args)).code).toBe(0);
    expect(existsSync(lock)).toBe(false);
  });

  it("inspects in words and refuses what is not a certificate", async () => {
    const r = await certs("inspect", join(caDir, "ca.pem"));
    expect(r.out).toMatch(/^ca +yes$/m);
    expect((await certs("inspect", join(caDir, "ledger.jsonl"))).err).toMatch(
      /not a PEM or DER X.509 certificate/,
    );
    expect((await certs("frobnicate")).code).toBe(2);
  });
});
