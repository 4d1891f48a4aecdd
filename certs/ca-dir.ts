import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseWorkloadId } from "../core/contract/index.js";
import { type PidLock, takePidLock } from "../core/index.js";
import { buildCrl, type RevocationReason } from "./crl.js";
import {
  type CertificateAuthority,
  createCa,
  createIntermediate,
  type IssuedCertificate,
  issueCertificate,
} from "./issue.js";
import type { KeyType } from "./key-type.js";
import { appendLedger, type LedgerCertificate, readLedger } from "./ledger.js";
import { type CertRole, PROFILES } from "./profiles.js";

/**
 * A federation CA's state folder:
 *
 *   ca.json        trust domain
 *   ca.pem         the CA certificate (the trust bundle relying parties load)
 *   ca-key.pem     its private key, mode 0600
 *   ledger.jsonl   append-only issuance ledger (see ledger.ts)
 *   crl.pem        the current signed CRL, replaced atomically
 *   certs/SERIAL.pem  a copy of every certificate issued (never the keys)
 *
 * Every operation checks all its input before it writes anything, so bad
 * input changes nothing.
 */
export interface CaDirPaths {
  dir: string;
  /** The trust bundle relying parties load: the root, and the issuing CA when there is one. */
  caCert: string;
  /** The issuing CA's key (the root's when there is no intermediate). */
  caKey: string;
  /** Only with an intermediate: the issuing CA's certificate, and the root's key. */
  intermediateCert: string;
  rootKey: string;
  ledger: string;
  crl: string;
  certs: string;
}

export interface IssueRequest {
  /** The role the certificate is for; the SPIFFE ID's path must say the same. */
  role: CertRole;
  /** Required for every role except `server`, which must not have one. */
  spiffeId?: string;
  commonName?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Default 90. */
  validityDays?: number;
  notBefore?: Date;
  /** Allow a second live certificate for the same identity (rotation). Default false. */
  renew?: boolean;
  /** The new key's type. Default ECDSA P-256. */
  keyType?: KeyType;
}

export interface RevokeTarget {
  serial?: string;
  spiffeId?: string;
}

export interface CaDir {
  readonly paths: CaDirPaths;
  readonly trustDomain: string;
  readonly ca: CertificateAuthority;
  /** Throws, naming the problem, if `issue(req)` would refuse; writes nothing. */
  check(req: IssueRequest): void;
  issue(req: IssueRequest): IssuedCertificate & { role: CertRole };
  /** Revokes and republishes the CRL. Returns the certificates revoked now. */
  revoke(target: RevokeTarget, reason: RevocationReason, at?: Date): LedgerCertificate[];
  /** Signs and writes a new CRL to paths.crl (and `out` if given). */
  publishCrl(options?: { nextUpdateDays?: number; out?: string }): {
    number: number;
    revoked: number;
    pem: string;
  };
  certificates(): LedgerCertificate[];
}

export function caDirPaths(dir: string): CaDirPaths {
  const d = resolve(dir);
  return {
    dir: d,
    caCert: join(d, "ca.pem"),
    caKey: join(d, "ca-key.pem"),
    intermediateCert: join(d, "intermediate.pem"),
    rootKey: join(d, "root-key.pem"),
    ledger: join(d, "ledger.jsonl"),
    crl: join(d, "crl.pem"),
    certs: join(d, "certs"),
  };
}

export interface InitCaDirOptions {
  dir: string;
  trustDomain: string;
  commonName?: string;
  /** Default 10 years. */
  validityDays?: number;
  /** Issue from an intermediate CA, so the root key signs nothing day to day. Default false. */
  intermediate?: boolean;
  /** The CA keys' type (the root's and the intermediate's). Default ECDSA P-256. */
  keyType?: KeyType;
}

/** Creates a new CA in an empty (or absent) folder and publishes an empty CRL. */
export function initCaDir(o: InitCaDirOptions): CaDir {
  const paths = caDirPaths(o.dir);
  if (existsSync(paths.caCert) || existsSync(paths.caKey) || existsSync(paths.ledger)) {
    throw new Error(`${paths.dir} already holds a CA; refusing to overwrite it`);
  }
  if (o.validityDays !== undefined && !(Number.isInteger(o.validityDays) && o.validityDays > 0)) {
    throw new Error(`validity must be a positive number of days, not ${o.validityDays}`);
  }
  const root = createCa({
    trustDomain: o.trustDomain,
    ...(o.commonName ? { commonName: o.commonName } : {}),
    ...(o.validityDays ? { validityDays: o.validityDays } : {}),
    ...(o.keyType ? { keyType: o.keyType } : {}),
  });
  const issuing = o.intermediate ? createIntermediate(root, o.keyType ? { keyType: o.keyType } : {}) : root;
  mkdirSync(paths.certs, { recursive: true, mode: 0o700 });
  chmodSync(paths.dir, 0o700);
  writeFileSync(paths.caKey, issuing.keyPem, { mode: 0o600, flag: "wx" });
  if (o.intermediate) {
    writeFileSync(paths.rootKey, root.keyPem, { mode: 0o600, flag: "wx" });
    writeFileSync(paths.intermediateCert, issuing.certPem, { flag: "wx" });
  }
  writeFileSync(paths.caCert, o.intermediate ? `${root.certPem}${issuing.certPem}` : root.certPem, {
    flag: "wx",
  });
  writeFileSync(
    join(paths.dir, "ca.json"),
    `${JSON.stringify({ trust_domain: o.trustDomain, intermediate: o.intermediate === true })}\n`,
  );
  writeFileSync(paths.ledger, "", { flag: "a" });
  const dir = caDirFrom(paths, issuing, o.intermediate ? root : undefined);
  dir.publishCrl();
  return dir;
}

/** Opens an existing CA folder; throws naming what is missing. */
export function openCaDir(dir: string): CaDir {
  const paths = caDirPaths(dir);
  const meta = join(paths.dir, "ca.json");
  for (const f of [meta, paths.caCert, paths.caKey]) {
    if (!existsSync(f))
      throw new Error(`${paths.dir} is not a CA folder: ${f} is missing (run xbus certs init)`);
  }
  const { trust_domain: trustDomain, intermediate } = JSON.parse(readFileSync(meta, "utf8")) as {
    trust_domain: string;
    intermediate?: boolean;
  };
  const bundle = readFileSync(paths.caCert, "utf8");
  const rootPem =
    bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/)?.[0] ?? bundle;
  const ca = {
    trustDomain,
    certPem: intermediate ? readFileSync(paths.intermediateCert, "utf8") : rootPem,
    keyPem: readFileSync(paths.caKey, "utf8"),
  };
  // The root's key is read only to sign the root's CRL; an operator may keep it offline and bring it back for that.
  const root = intermediate
    ? {
        trustDomain,
        certPem: rootPem,
        keyPem: existsSync(paths.rootKey) ? readFileSync(paths.rootKey, "utf8") : "",
      }
    : undefined;
  return caDirFrom(paths, ca, root);
}

/**
 * One writer at a time: two commands issuing at once could both pass the
 * duplicate check. The lock file holds the holder's pid, so a lock left by a
 * process that died is taken over instead of blocking the CA for good.
 */
function withLock<T>(dir: string, fn: () => T): T {
  const lock = join(dir, ".lock");
  let taken: PidLock;
  try {
    taken = takePidLock(lock);
  } catch (err) {
    throw new Error(`${dir} is locked by another xbus certs command (${lock})`, { cause: err });
  }
  if (!taken.taken)
    throw new Error(
      `${dir} is locked by another xbus certs command (${taken.holder === undefined ? lock : `pid ${taken.holder}`})`,
    );
  try {
    return fn();
  } finally {
    taken.release();
  }
}

/** Writes via a temp file and rename, so a reader never sees half a file. */
function writeAtomic(path: string, data: string, mode = 0o644): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}

function normalizeSerial(serial: string): string {
  const s = serial
    .replace(/:/g, "")
    .toUpperCase()
    .replace(/^0+(?=.)/, "");
  if (!/^[0-9A-F]{1,40}$/.test(s))
    throw new Error(`${JSON.stringify(serial.slice(0, 60))} is not a hex serial`);
  return s;
}

function caDirFrom(paths: CaDirPaths, ca: CertificateAuthority, root?: CertificateAuthority): CaDir {
  const caX509 = new X509Certificate(ca.certPem);

  const checkRequest = (req: IssueRequest): { spiffeId: string | undefined } => {
    const profile = PROFILES[req.role];
    if (!profile) throw new Error(`unknown role ${JSON.stringify(req.role)}`);
    if (req.role === "server") {
      if (req.spiffeId)
        throw new Error("a server certificate carries no SPIFFE ID; pick the workload's role instead");
    } else {
      if (!req.spiffeId) throw new Error(`a ${req.role} certificate needs a SPIFFE ID`);
      const id = parseWorkloadId(req.spiffeId);
      if (id.trustDomain !== ca.trustDomain) {
        throw new Error(`SPIFFE ID ${req.spiffeId} is outside the CA's trust domain ${ca.trustDomain}`);
      }
      if (id.role !== req.role) {
        throw new Error(`SPIFFE ID ${req.spiffeId} names role ${id.role}, not ${req.role}`);
      }
    }
    const names = [...(req.dnsNames ?? []), ...(req.ipAddresses ?? [])];
    if (profile.needsServerNames && names.length === 0) {
      throw new Error(`a ${req.role} certificate serves TLS and needs at least one DNS name or IP address`);
    }
    if (!profile.needsServerNames && names.length > 0) {
      throw new Error(
        `a ${req.role} certificate is a client certificate and takes no DNS names or IP addresses`,
      );
    }
    for (const dns of req.dnsNames ?? []) {
      if (
        !/^(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(
          dns,
        )
      ) {
        throw new Error(`${JSON.stringify(dns.slice(0, 80))} is not a DNS name`);
      }
    }
    for (const ip of req.ipAddresses ?? []) {
      if (!/^(?:\d{1,3}\.){3}\d{1,3}$/.test(ip) && !/^[0-9a-f:]+$/i.test(ip)) {
        throw new Error(`${JSON.stringify(ip.slice(0, 80))} is not an IP address`);
      }
    }
    const days = req.validityDays;
    if (days !== undefined && !(Number.isInteger(days) && days > 0)) {
      throw new Error(`validity must be a positive number of days, not ${days}`);
    }
    if (req.spiffeId && !req.renew) {
      const now = new Date();
      const live = readLedger(paths.ledger).certificates.find(
        (c) => c.spiffeId === req.spiffeId && !c.revoked && c.notAfter.getTime() > now.getTime(),
      );
      if (live) {
        throw new Error(
          `${req.spiffeId} already has a live certificate (serial ${live.serial}, until ${live.notAfter.toISOString()}); ` +
            "revoke it first, or renew it",
        );
      }
    }
    return { spiffeId: req.spiffeId };
  };

  const publishCrlUnlocked: CaDir["publishCrl"] = (options = {}) => {
    const days = options.nextUpdateDays ?? 30;
    if (!(Number.isInteger(days) && days > 0))
      throw new Error(`next update must be a positive number of days, not ${days}`);
    const state = readLedger(paths.ledger);
    const entries = state.certificates
      .filter((c) => c.revoked)
      .map((c) => ({
        serial: c.serial,
        revokedAt: c.revoked?.at ?? new Date(),
        reason: c.revoked?.reason ?? "unspecified",
      }));
    const number = state.lastCrlNumber + 1;
    const thisUpdate = new Date(Date.now() - 60_000);
    const nextUpdate = new Date(thisUpdate.getTime() + days * 86_400_000);
    if (nextUpdate.getTime() > new Date(caX509.validTo).getTime()) {
      throw new Error(`the CRL's next update ${nextUpdate.toISOString()} is after the CA expires`);
    }
    let pem = buildCrl({
      caCertPem: ca.certPem,
      caKeyPem: ca.keyPem,
      entries,
      number,
      thisUpdate,
      nextUpdate,
    });
    if (root) {
      // TLS checks every CA of the chain against a CRL of its issuer: the root's says the intermediate stands.
      if (!root.keyPem) throw new Error(`${paths.rootKey} is missing: the root's CRL needs the root key`);
      pem += buildCrl({
        caCertPem: root.certPem,
        caKeyPem: root.keyPem,
        entries: [],
        number,
        thisUpdate,
        nextUpdate,
      });
    }
    writeAtomic(paths.crl, pem);
    if (options.out) writeAtomic(resolve(options.out), pem);
    appendLedger(paths.ledger, {
      event: "crl",
      number,
      this_update: thisUpdate.toISOString(),
      next_update: nextUpdate.toISOString(),
      revoked: entries.length,
    });
    return { number, revoked: entries.length, pem };
  };

  return {
    paths,
    trustDomain: ca.trustDomain,
    ca,
    check: (req) => {
      checkRequest(req);
    },
    issue: (req) =>
      withLock(paths.dir, () => {
        const { spiffeId } = checkRequest(req);
        const profile = PROFILES[req.role];
        const issued = issueCertificate(ca, {
          ...(spiffeId ? { spiffeId } : {}),
          commonName: req.commonName ?? spiffeId ?? req.dnsNames?.[0] ?? req.ipAddresses?.[0] ?? req.role,
          usage: profile.usage,
          dnsNames: req.dnsNames ?? [],
          ipAddresses: req.ipAddresses ?? [],
          validityDays: req.validityDays ?? 90,
          ...(req.notBefore ? { notBefore: req.notBefore } : {}),
          ...(req.keyType ? { keyType: req.keyType } : {}),
        });
        const x = new X509Certificate(issued.certPem);
        mkdirSync(paths.certs, { recursive: true, mode: 0o700 });
        writeFileSync(join(paths.certs, `${issued.serial}.pem`), issued.certPem, { flag: "wx" });
        appendLedger(paths.ledger, {
          event: "issued",
          serial: issued.serial,
          spiffe_id: spiffeId ?? null,
          role: req.role,
          common_name: x.subject.match(/CN=([^\n]*)/)?.[1] ?? "",
          not_before: new Date(x.validFrom).toISOString(),
          not_after: new Date(x.validTo).toISOString(),
          issued_at: new Date().toISOString(),
        });
        return { ...issued, role: req.role };
      }),
    revoke: (target, reason, at = new Date()) =>
      withLock(paths.dir, () => {
        if ((target.serial === undefined) === (target.spiffeId === undefined)) {
          throw new Error("name exactly one of a serial or a SPIFFE ID to revoke");
        }
        // Checked first: a revocation must not reach the ledger without a CRL that says so.
        if (root && !root.keyPem)
          throw new Error(`${paths.rootKey} is missing: the root's CRL needs the root key`);
        const state = readLedger(paths.ledger);
        let victims: LedgerCertificate[];
        if (target.serial !== undefined) {
          const serial = normalizeSerial(target.serial);
          const c = state.bySerial.get(serial);
          if (!c) throw new Error(`no certificate with serial ${serial} was issued by this CA`);
          if (c.revoked) throw new Error(`serial ${serial} is already revoked (${c.revoked.reason})`);
          victims = [c];
        } else {
          const id = target.spiffeId ?? "";
          victims = state.certificates.filter((c) => c.spiffeId === id && !c.revoked && c.notAfter > at);
          if (victims.length === 0) throw new Error(`${id} has no live certificate to revoke`);
        }
        for (const c of victims) {
          appendLedger(paths.ledger, {
            event: "revoked",
            serial: c.serial,
            reason,
            revoked_at: at.toISOString(),
          });
          c.revoked = { reason, at };
        }
        publishCrlUnlocked();
        return victims;
      }),
    publishCrl: (options) => withLock(paths.dir, () => publishCrlUnlocked(options)),
    certificates: () => readLedger(paths.ledger).certificates,
  };
}

/** Writes an issued certificate and key (mode 0600), refusing to overwrite either. */
export function writeIssued(
  issued: { certPem: string; keyPem: string },
  certPath: string,
  keyPath: string,
): void {
  for (const p of [certPath, keyPath])
    if (existsSync(p)) throw new Error(`${p} exists; refusing to overwrite it`);
  writeFileSync(keyPath, issued.keyPem, { mode: 0o600, flag: "wx" });
  writeFileSync(certPath, issued.certPem, { flag: "wx" });
}
