import { spawnSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openCaDir, parseCrl } from "../../certs/index.js";

/*
 * CA folders made before the X.509 rewrite (RSA-2048 keys, certificates and
 * CRLs built by the node-forge issuer; test/pki/fixtures) still open, issue
 * (ECDSA by default, signed with the old RSA key), revoke, and publish CRLs
 * whose numbers carry on from the ledger, and openssl agrees with them. The
 * fixtures were made on 2026-12-04; their intermediate CA expires in 2031, when
 * they must be made again with an RSA CA (`xbus certs init --key-type rsa`).
 */
const tmp = mkdtempSync(join(tmpdir(), "xbus-legacy-ca-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const CRL_BLOCK = /-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g;

describe.each([
  ["forge-rsa-ca", 1],
  ["forge-rsa-intermediate-ca", 2],
])("a CA folder made by the node-forge issuer (%s)", (fixture, crls) => {
  const dir = join(tmp, fixture);
  cpSync(join(import.meta.dirname, "fixtures", fixture), dir, { recursive: true });
  for (const key of ["ca-key.pem", "root-key.pem"]) {
    try {
      chmodSync(join(dir, key), 0o600);
    } catch {
      // only the intermediate fixture has a root key
    }
  }
  const ca = openCaDir(dir);

  it("opens with its RSA keys and its ledger as written", () => {
    expect(createPrivateKey(ca.ca.keyPem).asymmetricKeyType).toBe("rsa");
    expect(ca.certificates().map((c) => c.revoked?.reason)).toEqual(["superseded"]);
  });

  it("issues an ECDSA identity that openssl verifies, revokes it, and numbers the CRL on from the ledger", () => {
    const before = parseCrl(readFileSync(ca.paths.crl, "utf8").match(CRL_BLOCK)?.[0] ?? "", ca.ca.certPem);
    const leaf = ca.issue({ role: "system", spiffeId: "spiffe://gov.bt/agency/moe/system/scholarships" });
    const x = new X509Certificate(leaf.certPem);
    expect(x.publicKey.asymmetricKeyType).toBe("ec");
    expect(x.checkIssued(new X509Certificate(ca.ca.certPem))).toBe(true);
    expect(x.subjectAltName).toBe("URI:spiffe://gov.bt/agency/moe/system/scholarships");

    const leafPath = join(dir, "leaf.pem");
    writeFileSync(leafPath, leaf.certPem);
    const verify = () =>
      spawnSync(
        "openssl",
        ["verify", "-crl_check_all", "-CAfile", ca.paths.caCert, "-CRLfile", ca.paths.crl, leafPath],
        {
          encoding: "utf8",
        },
      );
    expect(verify().status).toBe(0);

    ca.revoke({ serial: leaf.serial }, "keyCompromise");
    const blocks = readFileSync(ca.paths.crl, "utf8").match(CRL_BLOCK) ?? [];
    expect(blocks).toHaveLength(crls);
    const after = parseCrl(blocks[0] ?? "", ca.ca.certPem);
    expect(after.number).toBe((before.number ?? 0) + 1);
    expect(after.revoked.get(leaf.serial)?.reason).toBe("keyCompromise");
    const verdict = verify();
    expect(verdict.status).not.toBe(0);
    expect(`${verdict.stdout}${verdict.stderr}`).toMatch(/certificate revoked/);
    // The ledger keeps its line format: the same keys as the lines the old issuer wrote.
    const lines = readFileSync(ca.paths.ledger, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const keysOf = (event: string) =>
      lines.filter((l) => l.event === event).map((l) => Object.keys(l).sort());
    for (const event of ["issued", "revoked", "crl"]) {
      const [first, ...rest] = keysOf(event);
      for (const k of rest) expect(k).toEqual(first);
    }
  });
});
