import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  type CertificateStatus,
  formatCertificateInfo,
  initCaDir,
  inspectCertificate,
  isCertRole,
  isKeyType,
  isRevocationReason,
  KEY_TYPES,
  type KeyType,
  MIN_P12_PASSWORD_LENGTH,
  openCaDir,
  pkcs12,
  REVOCATION_REASONS,
  statusOf,
  writeIssued,
} from "../../certs/index.js";
import { formatWorkloadId } from "../../core/contract/index.js";
import { type PromptInput, readPassword } from "../password-prompt.js";
import { readUserFile } from "../user-file.js";
import type { Command } from "./command.js";

const HELP = `xbus certs <init|issue|revoke|crl|list|inspect> [options]

The federation's PKI. The CA's state lives in a folder (--ca-dir, or XBUS_CA_DIR): ca.pem,
ca-key.pem (0600), ledger.jsonl (append-only), crl.pem, certs/SERIAL.pem.

  init     --ca-dir DIR --trust-domain TD [--common-name CN] [--validity-days N (3650)] [--intermediate]
           [--key-type ecdsa|ed25519|rsa (ecdsa)]
           --intermediate: a root that signs only an issuing CA (root-key.pem can then go offline)
  issue    --ca-dir DIR --role system|connector|adapter|reviewer|broker|server
           (--spiffe-id URI | --agency A --name N | --name N for a broker)
           [--dns NAME]... [--ip ADDR]... [--validity-days N (90)] [--renew]
           [--key-type ecdsa|ed25519|rsa (ecdsa)]
           [--out DIR (.)] [--file NAME]   writes DIR/NAME.pem and DIR/NAME-key.pem (0600)
           [--p12 [--p12-password-file FILE]]   also DIR/NAME.p12 (0600): key, certificate and chain
           for Java or .NET keystores; the password is the file's first line, or asked on the terminal
  revoke   --ca-dir DIR (--serial HEX | --spiffe-id URI) [--reason R (unspecified)]
           reasons: ${Object.keys(REVOCATION_REASONS).join(", ")}
           republishes crl.pem at once
  crl      --ca-dir DIR [--next-update-days N (30)] [--out FILE]   sign and publish a new CRL
  list     --ca-dir DIR [--status valid|expiring|expired|not-yet-valid|revoked] [--json]
  inspect  FILE [--json]`;

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Where a password is asked for (`issue --p12` without a password file); none: nowhere. */
  terminal?: PromptInput;
}

/** A mistake in the command line: exit code 2 and the help text's pointer. */
class UsageError extends Error {}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,5}$/.test(value))
    throw new UsageError(`${flag} must be a positive whole number, not ${JSON.stringify(value)}`);
  return Number(value);
}

function keyTypeOf(value: string | undefined): KeyType | undefined {
  if (value === undefined) return undefined;
  if (!isKeyType(value))
    throw new UsageError(`--key-type must be one of ${KEY_TYPES.join(", ")} (got ${JSON.stringify(value)})`);
  return value;
}

/** The .p12's password: the file's first line, or asked twice on a terminal; never a flag, never logged. */
async function p12Password(file: string | undefined, io: Io): Promise<string> {
  let password: string;
  if (file !== undefined) {
    password = readUserFile(file, "utf8").split(/\r?\n/)[0] ?? "";
  } else if (io.terminal?.isTTY) {
    const ask = (prompt: string, terminal: PromptInput) => readPassword(prompt, terminal, { write: io.err });
    password = await ask("PKCS#12 password: ", io.terminal);
    if ((await ask("again: ", io.terminal)) !== password) throw new Error("the two passwords differ");
  } else {
    throw new UsageError("--p12 needs --p12-password-file FILE when there is no terminal to ask on");
  }
  if (password.length < MIN_P12_PASSWORD_LENGTH)
    throw new Error(`the PKCS#12 password must have at least ${MIN_P12_PASSWORD_LENGTH} characters`);
  return password;
}

function caDirOf(v: { "ca-dir"?: string | undefined }): string {
  const dir = v["ca-dir"] ?? process.env.XBUS_CA_DIR;
  if (!dir) throw new UsageError("--ca-dir DIR is required (or set XBUS_CA_DIR)");
  return dir;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g;

const STATUSES: readonly CertificateStatus[] = ["valid", "expiring", "expired", "not-yet-valid", "revoked"];

/** `xbus certs …` with its output going to `io`; resolves to the exit code. */
export async function runCerts(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(`${HELP}\n`);
    return 0;
  }
  try {
    switch (sub) {
      case "init":
        return init(rest, io);
      case "issue":
        return await issue(rest, io);
      case "revoke":
        return revoke(rest, io);
      case "crl":
        return crl(rest, io);
      case "list":
        return list(rest, io);
      case "inspect":
        return inspect(rest, io);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.out(`${HELP}\n`);
        return sub === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`);
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown }).code;
    if (err instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))) {
      io.err(`xbus certs: ${message}\nRun \`xbus certs --help\` for the options.\n`);
      return 2;
    }
    io.err(`xbus certs ${sub}: ${message}\n`);
    return 1;
  }
}

function init(args: string[], io: Io): number {
  const { values: v } = parseArgs({
    args,
    options: {
      "ca-dir": { type: "string" },
      "trust-domain": { type: "string" },
      "common-name": { type: "string" },
      "validity-days": { type: "string" },
      intermediate: { type: "boolean", default: false },
      "key-type": { type: "string" },
    },
    strict: true,
  });
  const trustDomain = v["trust-domain"];
  if (!trustDomain) throw new UsageError("--trust-domain is required (e.g. gov.bt)");
  const validityDays = positiveInt(v["validity-days"], "--validity-days");
  const keyType = keyTypeOf(v["key-type"]);
  const dir = initCaDir({
    dir: caDirOf(v),
    trustDomain,
    ...(v["common-name"] ? { commonName: v["common-name"] } : {}),
    ...(validityDays ? { validityDays } : {}),
    intermediate: v.intermediate ?? false,
    ...(keyType ? { keyType } : {}),
  });
  const info = inspectCertificate(dir.ca.certPem);
  io.out(
    `CA for ${trustDomain} in ${dir.paths.dir}\n  certificate ${dir.paths.caCert}\n  key         ${dir.paths.caKey} (0600)\n` +
      `  crl         ${dir.paths.crl}\n  valid until ${info.notAfter}\n`,
  );
  return 0;
}

async function issue(args: string[], io: Io): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      "ca-dir": { type: "string" },
      role: { type: "string" },
      "spiffe-id": { type: "string" },
      agency: { type: "string" },
      name: { type: "string" },
      dns: { type: "string", multiple: true },
      ip: { type: "string", multiple: true },
      "validity-days": { type: "string" },
      renew: { type: "boolean", default: false },
      out: { type: "string" },
      file: { type: "string" },
      "common-name": { type: "string" },
      "key-type": { type: "string" },
      p12: { type: "boolean", default: false },
      "p12-password-file": { type: "string" },
    },
    strict: true,
  });
  const role = v.role;
  if (!role || !isCertRole(role)) {
    throw new UsageError(
      `--role must be one of system, connector, adapter, reviewer, broker, server (got ${JSON.stringify(role ?? "")})`,
    );
  }
  const validityDays = positiveInt(v["validity-days"], "--validity-days");
  const keyType = keyTypeOf(v["key-type"]);
  if (v["p12-password-file"] !== undefined && !v.p12)
    throw new UsageError("--p12-password-file goes with --p12");
  const dir = openCaDir(caDirOf(v));
  let spiffeId = v["spiffe-id"];
  if (spiffeId && (v.agency || (v.name && role !== "server"))) {
    throw new UsageError("give either --spiffe-id or --agency/--name, not both");
  }
  if (!spiffeId && role !== "server") {
    if (role === "broker") {
      if (!v.name) throw new UsageError("a broker needs --spiffe-id or --name");
      spiffeId = formatWorkloadId(dir.trustDomain, { role, name: v.name });
    } else {
      if (!v.agency || !v.name) throw new UsageError(`a ${role} needs --spiffe-id, or --agency and --name`);
      spiffeId = formatWorkloadId(dir.trustDomain, { role, agency: v.agency, name: v.name });
    }
  }
  const base =
    v.file ??
    (spiffeId ? spiffeId.replace(/^spiffe:\/\/[^/]+\//, "").replace(/\//g, "-") : (v.name ?? "server"));
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$/.test(base))
    throw new UsageError(`--file ${JSON.stringify(base)} is not a plain file name`);
  const outDir = resolve(v.out ?? ".");
  const certPath = join(outDir, `${base}.pem`);
  const keyPath = join(outDir, `${base}-key.pem`);
  const p12Path = join(outDir, `${base}.p12`);
  const request = {
    role,
    ...(spiffeId ? { spiffeId } : {}),
    ...(v["common-name"] ? { commonName: v["common-name"] } : {}),
    dnsNames: v.dns ?? [],
    ipAddresses: v.ip ?? [],
    ...(validityDays ? { validityDays } : {}),
    renew: v.renew ?? false,
    ...(keyType ? { keyType } : {}),
  };
  // Everything is checked before the CA records anything, so a refusal leaves no trace.
  dir.check(request);
  for (const p of [certPath, keyPath, ...(v.p12 ? [p12Path] : [])]) {
    if (existsSync(p)) throw new Error(`${p} exists; refusing to overwrite it (pick --out or --file)`);
  }
  // The new key exists only in this process until it is written: a folder it cannot go to must stop
  // the issue before the ledger records a certificate whose key would be lost.
  try {
    mkdirSync(outDir, { recursive: true });
    accessSync(outDir, constants.W_OK);
  } catch (err) {
    throw new Error(`--out ${outDir}: cannot write there (${(err as { code?: string }).code ?? err})`);
  }
  const password = v.p12 ? await p12Password(v["p12-password-file"], io) : undefined;
  const issued = dir.issue(request);
  try {
    writeIssued(issued, certPath, keyPath);
    if (password !== undefined) {
      // The chain goes leaf first, then up: the bundle holds the root first.
      const chain = (readUserFile(dir.paths.caCert, "utf8").match(CERT_BLOCK) ?? []).reverse();
      const p12 = pkcs12({
        keyPem: issued.keyPem,
        certPem: issued.certPem,
        chainPems: chain,
        password,
        friendlyName: issued.spiffeId ?? base,
      });
      writeFileSync(p12Path, p12, { mode: 0o600, flag: "wx" });
    }
  } catch (err) {
    throw new Error(
      `certificate ${issued.serial} was issued but could not be written to ${outDir} (${(err as Error).message}): ` +
        `revoke it (xbus certs revoke --serial ${issued.serial}) or issue again with --renew`,
    );
  }
  io.out(
    `issued ${role} certificate serial ${issued.serial}\n  spiffe id ${issued.spiffeId ?? "(none)"}\n  not after ${issued.notAfter.toISOString()}\n` +
      `  cert      ${certPath}\n  key       ${keyPath} (0600)\n${password !== undefined ? `  p12       ${p12Path} (0600)\n` : ""}`,
  );
  return 0;
}

function revoke(args: string[], io: Io): number {
  const { values: v } = parseArgs({
    args,
    options: {
      "ca-dir": { type: "string" },
      serial: { type: "string" },
      "spiffe-id": { type: "string" },
      reason: { type: "string", default: "unspecified" },
    },
    strict: true,
  });
  const reason = v.reason ?? "unspecified";
  if (!isRevocationReason(reason)) {
    throw new UsageError(
      `--reason must be one of ${Object.keys(REVOCATION_REASONS).join(", ")} (got ${JSON.stringify(reason)})`,
    );
  }
  if ((v.serial === undefined) === (v["spiffe-id"] === undefined)) {
    throw new UsageError("name exactly one of --serial or --spiffe-id");
  }
  const dir = openCaDir(caDirOf(v));
  const revoked = dir.revoke(
    v.serial !== undefined ? { serial: v.serial } : { spiffeId: v["spiffe-id"] ?? "" },
    reason,
  );
  for (const c of revoked)
    io.out(`revoked serial ${c.serial} (${c.spiffeId ?? c.commonName}) reason ${reason}\n`);
  io.out(`published ${dir.paths.crl}\n`);
  return 0;
}

function crl(args: string[], io: Io): number {
  const { values: v } = parseArgs({
    args,
    options: {
      "ca-dir": { type: "string" },
      "next-update-days": { type: "string" },
      out: { type: "string" },
    },
    strict: true,
  });
  const days = positiveInt(v["next-update-days"], "--next-update-days");
  const dir = openCaDir(caDirOf(v));
  const r = dir.publishCrl({ ...(days ? { nextUpdateDays: days } : {}), ...(v.out ? { out: v.out } : {}) });
  io.out(
    `CRL number ${r.number} with ${r.revoked} revoked certificate(s): ${v.out ? resolve(v.out) : dir.paths.crl}\n`,
  );
  return 0;
}

function list(args: string[], io: Io): number {
  const { values: v } = parseArgs({
    args,
    options: {
      "ca-dir": { type: "string" },
      status: { type: "string" },
      json: { type: "boolean", default: false },
    },
    strict: true,
  });
  const wanted = v.status;
  if (wanted !== undefined && !STATUSES.includes(wanted as CertificateStatus)) {
    throw new UsageError(`--status must be one of ${STATUSES.join(", ")}`);
  }
  const now = new Date();
  const rows = openCaDir(caDirOf(v))
    .certificates()
    .map((c) => ({ c, status: statusOf(c, now) }))
    .filter((r) => wanted === undefined || r.status === wanted);
  if (v.json) {
    const json = rows.map(({ c, status }) => ({
      serial: c.serial,
      spiffe_id: c.spiffeId,
      role: c.role,
      common_name: c.commonName,
      not_before: c.notBefore.toISOString(),
      not_after: c.notAfter.toISOString(),
      status,
      revoked: c.revoked ? { reason: c.revoked.reason, at: c.revoked.at.toISOString() } : null,
    }));
    io.out(`${JSON.stringify(json, null, 2)}\n`);
    return 0;
  }
  for (const { c, status } of rows) {
    const why = c.revoked ? ` (${c.revoked.reason}, ${c.revoked.at.toISOString()})` : "";
    io.out(
      `${c.serial.padEnd(33)} ${status.padEnd(13)} ${c.role.padEnd(9)} ${c.notAfter.toISOString().slice(0, 10)}  ${c.spiffeId ?? c.commonName}${why}\n`,
    );
  }
  return 0;
}

function inspect(args: string[], io: Io): number {
  const { values: v, positionals } = parseArgs({
    args,
    options: { json: { type: "boolean", default: false } },
    allowPositionals: true,
    strict: true,
  });
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new UsageError("inspect takes exactly one FILE");
  const info = inspectCertificate(readUserFile(file));
  io.out(v.json ? `${JSON.stringify(info, null, 2)}\n` : `${formatCertificateInfo(info)}\n`);
  return 0;
}

export const certsCommand: Command = {
  name: "certs",
  summary: "the federation PKI: init a CA, issue, revoke, publish a CRL, list, inspect",
  run: (args) =>
    runCerts(args, {
      out: (t) => process.stdout.write(t),
      err: (t) => process.stderr.write(t),
      terminal: process.stdin,
    }),
};
