import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createServer, type Server } from "node:tls";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type CaDir, openCaDir, watchCrl } from "../../certs/index.js";
import { createLogger } from "../../core/index.js";
import { runCerts } from "./certs.js";

/*
 * A root that signs only an issuing CA. TLS then checks the leaf against the
 * issuing CA's CRL and the issuing CA against the root's, so crl.pem carries
 * both; Node's TLS (the broker's) and openssl must agree with that.
 */
let tmp: string;
let ca: CaDir;
let server: Server;
const quiet = createLogger({}, "error", () => {});

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "xbus-intermediate-"));
  const r = await runCerts(
    ["init", "--ca-dir", join(tmp, "ca"), "--trust-domain", "gov.bt", "--intermediate"],
    { out: () => {}, err: (t) => process.stderr.write(t) },
  );
  expect(r).toBe(0);
  ca = openCaDir(join(tmp, "ca"));
});
afterAll(() => {
  server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const CRL_BLOCK = /-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g;

function tlsOptions() {
  const s = ca.issue({ role: "server", dnsNames: ["localhost"], renew: true });
  return {
    ca: readFileSync(ca.paths.caCert, "utf8"),
    cert: s.certPem,
    key: s.keyPem,
    crl: readFileSync(ca.paths.crl, "utf8").match(CRL_BLOCK) ?? [],
  };
}

/** Whether a TLS server set up like the broker's accepts the client. */
function accepted(port: number, client: { cert: string; key: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "localhost", port, ca: readFileSync(ca.paths.caCert, "utf8"), ...client });
    // With TLS 1.3 the server judges the client after the handshake: wait for its first word.
    s.on("data", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
    s.on("close", () => resolve(false));
  });
}

it("issues from the intermediate; TLS, openssl and the broker's CRL watcher agree before and after a revocation", async () => {
  expect(statSync(ca.paths.rootKey).mode & 0o777).toBe(0o600);
  expect(statSync(ca.paths.caKey).mode & 0o777).toBe(0o600);
  const leaf = ca.issue({ role: "system", spiffeId: "spiffe://gov.bt/agency/moe/system/scholarships" });
  const leafX = new X509Certificate(leaf.certPem);
  const intermediate = new X509Certificate(readFileSync(ca.paths.intermediateCert));
  expect(leafX.checkIssued(intermediate)).toBe(true);
  expect(intermediate.ca).toBe(true);
  expect(readFileSync(ca.paths.crl, "utf8").match(CRL_BLOCK)).toHaveLength(2);

  const leafPath = join(tmp, "leaf.pem");
  writeFileSync(leafPath, leaf.certPem);
  const verify = () =>
    spawnSync(
      "openssl",
      ["verify", "-crl_check_all", "-CAfile", ca.paths.caCert, "-CRLfile", ca.paths.crl, leafPath],
      { encoding: "utf8" },
    );
  expect(verify().status).toBe(0);

  server = createServer({ ...tlsOptions(), requestCert: true, rejectUnauthorized: true }, (s) =>
    s.write("hi"),
  );
  await new Promise<void>((r) => server.listen(0, "localhost", r));
  const port = (server.address() as { port: number }).port;
  const client = { cert: leaf.certPem, key: leaf.keyPem };
  expect(await accepted(port, client)).toBe(true);

  const watcher = watchCrl({
    path: ca.paths.crl,
    caPem: () => readFileSync(ca.paths.caCert, "utf8"),
    logger: quiet,
  });
  expect(watcher.isRevoked(leaf.serial)).toBe(false);
  ca.revoke({ serial: leaf.serial }, "keyCompromise");
  expect(watcher.reload()).toBe(true);
  expect(watcher.isRevoked(leaf.serial)).toBe(true);
  watcher.close();

  server.setSecureContext(tlsOptions());
  expect(await accepted(port, client)).toBe(false);
  const after = verify();
  expect(after.status).not.toBe(0);
  expect(`${after.stdout}${after.stderr}`).toMatch(/certificate revoked/);
});
