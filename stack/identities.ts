import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type CaDir,
  type CertificateAuthority,
  caDirPaths,
  type IssuedCertificate,
  type IssueRequest,
  initCaDir,
  issueCertificate,
  openCaDir,
} from "../certs/index.js";

/** The trust domain of every stack assembled here (Bhutan's federation). */
export const TRUST_DOMAIN = "gov.bt";
/** The dev broker's SPIFFE ID: its certificate, and each renewal of it, carries this one. */
export const DEV_BROKER = `spiffe://${TRUST_DOMAIN}/xbus/broker/dev`;
/** The log services a stack starts beside its own (`addLogService`, the standby): role `log` on NATS. */
export const DEV_LOG = `spiffe://${TRUST_DOMAIN}/xbus/log/dev`;
/** The dev stack's admin: it makes the log stream and the consent bucket (xbus federation init). */
export const DEV_ADMIN = `spiffe://${TRUST_DOMAIN}/xbus/admin/dev`;
export const DEV_CONSUMER = `spiffe://${TRUST_DOMAIN}/agency/moe/system/scholarships`;
/** The second consumer system of the journeys (driving-licence renewal). */
export const DEV_LICENSING = `spiffe://${TRUST_DOMAIN}/agency/rsta/system/licensing`;
/** The consent authority of the journeys: where a citizen gives consent (policies/federation.yaml). */
export const DEV_PORTAL = `spiffe://${TRUST_DOMAIN}/agency/govtech/system/citizen-portal`;
/** What a loopback server's certificate names: `localhost` and both loopback addresses. */
export const LOOPBACK = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] };

/** A certificate and key: their PEM text and the files they were written to. */
export interface PemPair {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

export type IssuedPair = PemPair & IssuedCertificate;

/** A stack's PKI: the CA folder under `<dir>/ca` and the certificates it wrote to `<dir>/certs`. */
export interface Identities {
  readonly ca: CertificateAuthority;
  readonly caDir: CaDir;
  /** `<dir>/certs/ca.pem`: the trust bundle (with an intermediate, the root and the issuing CA). */
  readonly caPath: string;
  readonly trustBundle: string;
  readonly certDir: string;
  /** Issues through the CA folder (recorded in its ledger, so it can be revoked) and writes the files. */
  issueIdentity(name: string, req: IssueRequest): IssuedPair;
  /** Issues and writes a certificate signed by the CA, outside the ledger (for odd test certificates). */
  issue(name: string, opts: Parameters<typeof issueCertificate>[1]): IssuedPair;
  /** A pair this stack wrote earlier, read back from its files. */
  pemOf(name: string): PemPair;
}

/**
 * Opens the stack's CA folder, or creates it the first time. The CA outlives a
 * run of `xbus dev`, so what was revoked stays revoked; identities are renewed
 * at each start (`renew: true`).
 */
export function openIdentities(dir: string): Identities {
  const certDir = join(dir, "certs");
  mkdirSync(certDir, { recursive: true, mode: 0o700 });
  const caPaths = caDirPaths(join(dir, "ca"));
  const caDir = existsSync(caPaths.caCert)
    ? openCaDir(caPaths.dir)
    : initCaDir({ dir: caPaths.dir, trustDomain: TRUST_DOMAIN, commonName: "gov.bt dev federation CA" });
  const caPath = join(certDir, "ca.pem");
  const trustBundle = readFileSync(caDir.paths.caCert, "utf8");
  writeFileSync(caPath, trustBundle);
  const pathsOf = (name: string) => ({
    certPath: join(certDir, `${name}.pem`),
    keyPath: join(certDir, `${name}-key.pem`),
  });
  const write = (name: string, c: IssuedCertificate): IssuedPair => {
    const { certPath, keyPath } = pathsOf(name);
    writeFileSync(certPath, c.certPem);
    writeFileSync(keyPath, c.keyPem, { mode: 0o600 });
    return { ...c, cert: c.certPem, key: c.keyPem, certPath, keyPath };
  };
  return {
    ca: caDir.ca,
    caDir,
    caPath,
    trustBundle,
    certDir,
    issueIdentity: (name, req) => write(name, caDir.issue({ renew: true, ...req })),
    issue: (name, opts) => write(name, issueCertificate(caDir.ca, opts)),
    pemOf(name) {
      const { certPath, keyPath } = pathsOf(name);
      return { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8"), certPath, keyPath };
    },
  };
}
