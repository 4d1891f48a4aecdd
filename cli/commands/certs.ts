import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import {
  type CertificateStatus,
  formatCertificateInfo,
  initCaDir,
  inspectCertificate,
  isCertRole,
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
import {
  act,
  choiceOption,
  type Io,
  type Run,
  repeatableOption,
  UsageError,
  type XbusCommand,
} from "./command.js";
import { runProgram } from "./program.js";

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,5}$/.test(value))
    throw new UsageError(`${flag} must be a positive whole number, not ${JSON.stringify(value)}`);
  return Number(value);
}

/** --ca-dir, which commander also takes from XBUS_CA_DIR. */
function caDirOf(v: { caDir?: string }): string {
  if (!v.caDir) throw new UsageError("--ca-dir DIR is required (or set XBUS_CA_DIR)");
  return v.caDir;
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

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g;

const STATUSES: readonly CertificateStatus[] = ["valid", "expiring", "expired", "not-yet-valid", "revoked"];
const ROLES = [
  "system",
  "connector",
  "adapter",
  "reviewer",
  "leaf",
  "broker",
  "admin",
  "route",
  "log",
  "server",
] as const;

/** `xbus certs …` with its output going to `io`; resolves to the exit code. */
export function runCerts(args: string[], io: Io): Promise<number> {
  return runProgram([certsCommand], ["certs", ...args], io);
}

/** The CA's folder, which every subcommand but inspect works on. */
const caDirOption = () =>
  new Option("--ca-dir <dir>", "the CA's folder: ca.pem, ca-key.pem, ledger.jsonl, crl.pem, certs/").env(
    "XBUS_CA_DIR",
  );
const validityOption = (days: number) =>
  new Option("--validity-days <n>", `how long the certificate is valid, in days (default ${days})`);
const keyTypeOption = (what: string) =>
  choiceOption("--key-type <type>", `${what} (default ecdsa: P-256)`, KEY_TYPES);

interface InitFlags {
  caDir?: string;
  trustDomain?: string;
  commonName?: string;
  validityDays?: string;
  intermediate?: true;
  keyType?: KeyType;
}

function init(run: Run): Command {
  const cmd = new Command("init")
    .summary("create the federation's CA in a new folder")
    .addOption(caDirOption())
    .option("--trust-domain <td>", "the federation's trust domain, e.g. gov.bt")
    .option("--common-name <cn>", "the CA certificate's common name")
    .addOption(validityOption(3650))
    .option("--intermediate", "a root that signs only an issuing CA (root-key.pem can then be kept offline)")
    .addOption(keyTypeOption("the CA keys' type"));
  return act<InitFlags>(run, cmd, (v) => {
    const trustDomain = v.trustDomain;
    if (!trustDomain) throw new UsageError("--trust-domain is required (e.g. gov.bt)");
    const validityDays = positiveInt(v.validityDays, "--validity-days");
    const dir = initCaDir({
      dir: caDirOf(v),
      trustDomain,
      ...(v.commonName ? { commonName: v.commonName } : {}),
      ...(validityDays ? { validityDays } : {}),
      intermediate: v.intermediate === true,
      ...(v.keyType ? { keyType: v.keyType } : {}),
    });
    const info = inspectCertificate(dir.ca.certPem);
    run.io.out(
      `CA for ${trustDomain} in ${dir.paths.dir}\n  certificate ${dir.paths.caCert}\n  key         ${dir.paths.caKey} (0600)\n` +
        `  crl         ${dir.paths.crl}\n  valid until ${info.notAfter}\n`,
    );
    return 0;
  });
}

interface IssueFlags {
  caDir?: string;
  role?: string;
  spiffeId?: string;
  agency?: string;
  name?: string;
  dns?: string[];
  ip?: string[];
  validityDays?: string;
  renew?: true;
  out?: string;
  file?: string;
  commonName?: string;
  keyType?: KeyType;
  p12?: true;
  p12PasswordFile?: string;
}

function issue(run: Run): Command {
  const cmd = new Command("issue")
    .summary("issue a workload's certificate and key")
    .description(
      "Issues a certificate and its key: DIR/NAME.pem and DIR/NAME-key.pem (0600). The identity is " +
        "--spiffe-id, or --agency and --name (--name alone for a broker); a server has none, only names. " +
        "With --p12 also DIR/NAME.p12, its password never a flag.",
    )
    .addOption(caDirOption())
    .addOption(choiceOption("--role <role>", "what the certificate is for", ROLES))
    .option("--spiffe-id <uri>", "the workload's SPIFFE ID")
    .option("--agency <agency>", "the workload's agency")
    .option("--name <name>", "the workload's name")
    .addOption(repeatableOption("--dns <name>", "a DNS name (adapter, broker, route, server)"))
    .addOption(repeatableOption("--ip <addr>", "an IP address (adapter, broker, route, server)"))
    .addOption(validityOption(90))
    .option("--renew", "issue although the identity has a live certificate (rotation)")
    .option("--out <dir>", "where the files go (default the current folder)")
    .option("--file <name>", "the files' name (default from the SPIFFE ID)")
    .option("--common-name <cn>", "the certificate's common name")
    .addOption(keyTypeOption("the new key's type"))
    .option("--p12", "also DIR/NAME.p12 (0600): key, certificate and chain, for a Java or .NET keystore")
    .option(
      "--p12-password-file <file>",
      "the .p12's password: the file's first line (default: asked on the terminal)",
    );
  return act<IssueFlags>(run, cmd, async (v) => {
    const role = v.role;
    if (!role || !isCertRole(role)) {
      throw new UsageError(`--role must be one of ${ROLES.join(", ")} (got ${JSON.stringify(role ?? "")})`);
    }
    const validityDays = positiveInt(v.validityDays, "--validity-days");
    if (v.p12PasswordFile !== undefined && !v.p12)
      throw new UsageError("--p12-password-file goes with --p12");
    const dir = openCaDir(caDirOf(v));
    let spiffeId = v.spiffeId;
    if (spiffeId && (v.agency || (v.name && role !== "server"))) {
      throw new UsageError("give either --spiffe-id or --agency/--name, not both");
    }
    if (!spiffeId && role !== "server") {
      if (role === "broker" || role === "admin" || role === "route" || role === "log") {
        if (!v.name) throw new UsageError(`a ${role} needs --spiffe-id or --name`);
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
      ...(v.commonName ? { commonName: v.commonName } : {}),
      dnsNames: v.dns ?? [],
      ipAddresses: v.ip ?? [],
      ...(validityDays ? { validityDays } : {}),
      renew: v.renew === true,
      ...(v.keyType ? { keyType: v.keyType } : {}),
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
    const password = v.p12 ? await p12Password(v.p12PasswordFile, run.io) : undefined;
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
    run.io.out(
      `issued ${role} certificate serial ${issued.serial}\n  spiffe id ${issued.spiffeId ?? "(none)"}\n  not after ${issued.notAfter.toISOString()}\n` +
        `  cert      ${certPath}\n  key       ${keyPath} (0600)\n${password !== undefined ? `  p12       ${p12Path} (0600)\n` : ""}`,
    );
    return 0;
  });
}

interface RevokeFlags {
  caDir?: string;
  serial?: string;
  spiffeId?: string;
  reason: string;
}

function revoke(run: Run): Command {
  const cmd = new Command("revoke")
    .summary("revoke a certificate and republish crl.pem at once")
    .addOption(caDirOption())
    .option("--serial <hex>", "the certificate's serial")
    .option("--spiffe-id <uri>", "every live certificate of this identity")
    .addOption(
      choiceOption("--reason <reason>", "the RFC 5280 reason", Object.keys(REVOCATION_REASONS)).default(
        "unspecified",
      ),
    );
  return act<RevokeFlags>(run, cmd, (v) => {
    const reason = v.reason;
    if (!isRevocationReason(reason)) {
      throw new UsageError(
        `--reason must be one of ${Object.keys(REVOCATION_REASONS).join(", ")} (got ${JSON.stringify(reason)})`,
      );
    }
    if ((v.serial === undefined) === (v.spiffeId === undefined)) {
      throw new UsageError("name exactly one of --serial or --spiffe-id");
    }
    const dir = openCaDir(caDirOf(v));
    const revoked = dir.revoke(
      v.serial !== undefined ? { serial: v.serial } : { spiffeId: v.spiffeId ?? "" },
      reason,
    );
    for (const c of revoked)
      run.io.out(`revoked serial ${c.serial} (${c.spiffeId ?? c.commonName}) reason ${reason}\n`);
    run.io.out(`published ${dir.paths.crl}\n`);
    return 0;
  });
}

interface CrlFlags {
  caDir?: string;
  nextUpdateDays?: string;
  out?: string;
}

function crl(run: Run): Command {
  const cmd = new Command("crl")
    .summary("sign and publish a new CRL")
    .addOption(caDirOption())
    .option("--next-update-days <n>", "days until the CRL's next update (default 30)")
    .option("--out <file>", "write it there instead of the CA folder's crl.pem");
  return act<CrlFlags>(run, cmd, (v) => {
    const days = positiveInt(v.nextUpdateDays, "--next-update-days");
    const dir = openCaDir(caDirOf(v));
    const r = dir.publishCrl({ ...(days ? { nextUpdateDays: days } : {}), ...(v.out ? { out: v.out } : {}) });
    run.io.out(
      `CRL number ${r.number} with ${r.revoked} revoked certificate(s): ${v.out ? resolve(v.out) : dir.paths.crl}\n`,
    );
    return 0;
  });
}

interface ListFlags {
  caDir?: string;
  status?: CertificateStatus;
  json?: true;
}

function list(run: Run): Command {
  const cmd = new Command("list")
    .summary("the certificates the CA issued, with their status")
    .addOption(caDirOption())
    .addOption(choiceOption("--status <status>", "only those of this status", STATUSES))
    .option("--json", "as JSON");
  return act<ListFlags>(run, cmd, (v) => {
    const wanted = v.status;
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
      run.io.out(`${JSON.stringify(json, null, 2)}\n`);
      return 0;
    }
    for (const { c, status } of rows) {
      const why = c.revoked ? ` (${c.revoked.reason}, ${c.revoked.at.toISOString()})` : "";
      run.io.out(
        `${c.serial.padEnd(33)} ${status.padEnd(13)} ${c.role.padEnd(9)} ${c.notAfter.toISOString().slice(0, 10)}  ${c.spiffeId ?? c.commonName}${why}\n`,
      );
    }
    return 0;
  });
}

function inspect(run: Run): Command {
  const cmd = new Command("inspect")
    .summary("a certificate file in words")
    .argument("<file>", "a PEM or DER certificate")
    .option("--json", "as JSON");
  return act<{ json?: true }>(run, cmd, (v, [file]) => {
    const info = inspectCertificate(readUserFile(file ?? ""));
    run.io.out(v.json ? `${JSON.stringify(info, null, 2)}\n` : `${formatCertificateInfo(info)}\n`);
    return 0;
  });
}

export const certsCommand: XbusCommand = {
  name: "certs",
  create: (run) =>
    new Command("certs")
      .summary("the federation PKI: init a CA, issue, revoke, publish a CRL, list, inspect")
      .description(
        "The federation's PKI. The CA's state lives in a folder (--ca-dir, or XBUS_CA_DIR): ca.pem, " +
          "ca-key.pem (0600), ledger.jsonl (append-only), crl.pem, certs/SERIAL.pem.",
      )
      .addCommand(init(run))
      .addCommand(issue(run))
      .addCommand(revoke(run))
      .addCommand(crl(run))
      .addCommand(list(run))
      .addCommand(inspect(run)),
};
