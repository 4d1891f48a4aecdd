import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../core/logger.js";
import { watchCrl } from "./crl-watcher.js";
import { buildCrl, type CertificateAuthority, createCa } from "./index.js";

/*
 * Per issuing CA, a CRL file only moves forward: during a CA rollover the file
 * holds one CRL per CA, and each must be the one in force or newer.
 */
const tmp = mkdtempSync(join(tmpdir(), "xbus-crl-watcher-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const old = createCa({ trustDomain: "gov.bt", commonName: "old CA" });
const next = createCa({ trustDomain: "gov.bt", commonName: "new CA" });
const bundle = `${old.certPem}${next.certPem}`;
const crl = (ca: CertificateAuthority, number: number, serials: string[] = []) =>
  buildCrl({
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    number,
    entries: serials.map((serial) => ({ serial, revokedAt: new Date(), reason: "keyCompromise" as const })),
  });

function watcher(name: string, first: string) {
  const path = join(tmp, name);
  writeFileSync(path, first);
  const refusals: string[] = [];
  const logger = createLogger({}, "error", (l) => refusals.push(JSON.parse(l).msg));
  const w = watchCrl({ path, caPem: () => bundle, logger });
  const put = (text: string) => {
    writeFileSync(path, text);
    return w.reload();
  };
  return { w, put, refusals };
}

describe("watchCrl, per issuer", () => {
  it("takes each CA's CRL only when it is newer, the other CA's unchanged", () => {
    const oldCrl = crl(old, 7, ["AA"]);
    const { w, put, refusals } = watcher("rollover.pem", `${oldCrl}${crl(next, 1)}`);
    expect(put(`${oldCrl}${crl(next, 2, ["BB"])}`)).toBe(true);
    expect(w.isRevoked("BB")).toBe(true);
    // The new CA's older CRL, the old CA's unchanged: refused.
    expect(put(`${oldCrl}${crl(next, 1)}`)).toBe(false);
    // The same number signed again with other contents is no newer either.
    expect(put(`${oldCrl}${crl(next, 2)}`)).toBe(false);
    expect(w.isRevoked("BB")).toBe(true);
    expect(refusals).toHaveLength(2);
    expect(refusals.every((m) => /not higher than the one in force/.test(m))).toBe(true);
    w.close();
  });

  it("remembers a CA whose CRL left the file: it cannot come back older", () => {
    const { w, put } = watcher("dropped.pem", `${crl(old, 3, ["AA"])}${crl(next, 1)}`);
    const nextCrl = crl(next, 2);
    expect(put(nextCrl)).toBe(true);
    expect(put(`${crl(old, 2)}${nextCrl}`)).toBe(false);
    expect(put(`${crl(old, 4, ["AA"])}${nextCrl}`)).toBe(true);
    expect(w.isRevoked("AA")).toBe(true);
    w.close();
  });

  it("keeps the highest number across a restart: an older genuine CRL is refused, the revocation stays", () => {
    const { w, put } = watcher("restart.pem", crl(old, 5, ["AA"]));
    expect(put(crl(old, 6, ["AA", "CC"]))).toBe(true);
    w.close();
    const path = join(tmp, "restart.pem");
    const state = JSON.parse(readFileSync(`${path}.numbers.json`, "utf8"));
    expect(Object.values(state.issuers)).toMatchObject([{ number: 6 }]);
    // The older CRL written over the current one while the process was down: the restart refuses it.
    writeFileSync(path, crl(old, 5, ["AA"]));
    expect(() =>
      watchCrl({ path, caPem: () => bundle, logger: createLogger({}, "error", () => {}) }),
    ).toThrow(/number 5, older than 6 in force before/);
    // Back to the current one: it starts, and the rollback is refused again on a reload.
    const again = watcher("restart.pem", crl(old, 6, ["AA", "CC"]));
    expect(again.put(crl(old, 5, ["AA"]))).toBe(false);
    expect(again.w.isRevoked("CC")).toBe(true);
    again.w.close();
  });

  it("refuses a file with two CRLs of one CA", () => {
    expect(() => watcher("twice.pem", `${crl(old, 1)}${crl(old, 2)}`)).toThrow(/two CRLs of CN=old CA/);
  });
});
