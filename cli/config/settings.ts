import { createPrivateKey, createPublicKey, type KeyObject, type X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { WorkloadId } from "../../core/contract/index.js";
import {
  checkIdentity,
  checkOwnTls,
  type Identity,
  keepsIdentity,
  pemCertificates,
  type TlsFile,
  type TlsPem,
} from "../../core/tls/index.js";
import { whyUnreadable } from "../user-file.js";

export type { Identity, TlsFile } from "../../core/tls/index.js";
export { checkOwnTls, keepsIdentity };

/**
 * Settings of a process command (`xbus connector`, `xbus broker`): a JSON
 * file, each setting also a flag that wins over it. A problem is named by its
 * setting and where it came from (`connector.json: tls.key` or `--key`), and
 * messages name files, never their contents: no key or certificate text
 * reaches a terminal or a log.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Every setting of a command: dotted path in the JSON (one level of sections) → its flag, if it has one. */
export type SettingsSpec = Readonly<Record<string, string | undefined>>;

export type Flags = Readonly<Record<string, string | string[] | undefined>>;

export const HOST_PORT = /^[A-Za-z0-9.-]+:[0-9]{1,5}$|^\[[0-9a-fA-F:]+\]:[0-9]{1,5}$/;
const NATS_URL = /^(nats|tls):\/\/[^\s/]+$|^[A-Za-z0-9.-]+:[0-9]{1,5}$/;

/** Reads one command's settings; each accessor throws ConfigError naming the setting. */
export function settingsReader<S extends SettingsSpec>(
  spec: S,
  configPath: string | undefined,
  flags: Flags,
) {
  type Setting = keyof S & string;
  const file = configPath === undefined ? undefined : readConfigFile(configPath, spec);
  const baseDir = configPath === undefined ? process.cwd() : dirname(resolve(configPath));
  const flagOf = (s: Setting) => spec[s];
  const fromFlag = (s: Setting) => {
    const flag = flagOf(s);
    return flag !== undefined && flags[flag] !== undefined;
  };

  /** Where a setting came from: the flag when given, else the file's key. */
  const origin = (s: Setting): string => {
    if (fromFlag(s) || configPath === undefined) return `--${flagOf(s) ?? s}`;
    return `${configPath}: ${s}`;
  };
  const fail = (s: Setting, why: string): never => {
    throw new ConfigError(`${origin(s)}: ${why}`);
  };
  const raw = (s: Setting): unknown => {
    const flag = flagOf(s);
    if (flag !== undefined && flags[flag] !== undefined) return flags[flag];
    const [a, b] = s.split(".") as [string, string | undefined];
    const v = file?.[a];
    return b === undefined ? v : (v as Record<string, unknown> | undefined)?.[b];
  };
  const has = (s: Setting) => raw(s) !== undefined;
  const str = (s: Setting): string => {
    const v = raw(s);
    if (v === undefined || v === "") return fail(s, "is required");
    if (typeof v !== "string") return fail(s, "must be a string");
    return v;
  };
  const optStr = (s: Setting): string | undefined => {
    const v = raw(s);
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v === "") return fail(s, "must be a non-empty string");
    return v;
  };
  const list = (s: Setting): string[] => {
    const v = raw(s);
    const items = typeof v === "string" ? [v] : v;
    if (!Array.isArray(items) || items.length === 0) return fail(s, "is required (one or more)");
    for (const i of items) if (typeof i !== "string" || i === "") fail(s, "must be a list of strings");
    return items as string[];
  };
  const int = (s: Setting, min: number, max: number): number | undefined => {
    const v = raw(s);
    if (v === undefined) return undefined;
    const n = typeof v === "string" && /^[0-9]+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max)
      return fail(s, `must be a whole number from ${min} to ${max}`);
    return n;
  };
  /** A path setting, absolute: flag paths are the shell's (cwd), file paths relative to the file. */
  const path = (s: Setting, value = str(s)): string => resolve(fromFlag(s) ? process.cwd() : baseDir, value);
  const optPath = (s: Setting): string | undefined => {
    const v = optStr(s);
    return v === undefined ? undefined : path(s, v);
  };
  const read = (s: Setting, file: string): string => {
    try {
      return readFileSync(file, "utf8");
    } catch (err) {
      return fail(s, `cannot read ${file} (${whyUnreadable(err)})`);
    }
  };
  const natsServers = (s: Setting): string[] => {
    const servers = list(s);
    for (const u of servers)
      if (!NATS_URL.test(u))
        fail(s, `${JSON.stringify(u.slice(0, 100))} is not a NATS URL (nats://HOST:PORT or tls://HOST:PORT)`);
    return servers;
  };
  const hostPort = (s: Setting): string => {
    const v = str(s);
    if (!HOST_PORT.test(v)) fail(s, `must be HOST:PORT, got ${JSON.stringify(v.slice(0, 100))}`);
    return v;
  };
  const certificates = (s: Setting, file: string, text = read(s, file)): X509Certificate[] =>
    pemCertificates(file, text, (why) => fail(s, why));
  /** An Ed25519 key file: public (`want` "public") or private. */
  const ed25519 = (s: Setting, file: string, want: "public" | "private"): KeyObject => {
    const pem = read(s, file);
    if (pem.includes("BEGIN CERTIFICATE")) fail(s, `${file} is a certificate, not an Ed25519 ${want} key`);
    if (want === "public" && pem.includes("PRIVATE KEY"))
      fail(s, `${file} is a private key; give the public key`);
    let key: KeyObject;
    try {
      key = want === "public" ? createPublicKey(pem) : createPrivateKey(pem);
    } catch {
      return fail(s, `${file} is not a PEM ${want} key`);
    }
    if (key.asymmetricKeyType !== "ed25519")
      fail(s, `${file} is a ${key.asymmetricKeyType} key; it must be Ed25519`);
    return key;
  };
  /** A certificate and its key from their files (checkIdentity), a problem named by its setting. */
  const identity = (o: {
    cert: Setting;
    key: Setting;
    certFile: string;
    keyFile: string;
    trusted: readonly X509Certificate[];
    expected: (id: WorkloadId | undefined) => string | undefined;
    now: Date;
  }): Identity =>
    checkIdentity({
      ...o,
      certPem: read(o.cert, o.certFile),
      keyPem: read(o.key, o.keyFile),
      fail: (f, why) => fail(f === "cert" ? o.cert : o.key, why),
    });
  /**
   * The process's own identity from `tls.ca`, `tls.cert` and `tls.key` (every process command has them):
   * checkOwnTls on the files, a problem named by its setting. `pem` is the files' text as read and checked,
   * what a renewal is compared with. `renewal` runs the same checks on the files' text as the process read
   * it again after they changed, and one more: the certificate is still the workload's (keepsIdentity).
   */
  const ownIdentity = (expected: (id: WorkloadId | undefined) => string | undefined, now: Date) => {
    const settings = { ca: "tls.ca", cert: "tls.cert", key: "tls.key" } as Record<TlsFile, Setting>;
    const files = { ca: path(settings.ca), cert: path(settings.cert), key: path(settings.key) };
    const check = (pem: TlsPem, wanted: typeof expected, at: Date) =>
      checkOwnTls({ files, pem, expected: wanted, now: at, fail: (f, why) => fail(settings[f], why) });
    const pem: TlsPem = {
      ca: read(settings.ca, files.ca),
      cert: read(settings.cert, files.cert),
      key: read(settings.key, files.key),
    };
    const own = check(pem, expected, now);
    const renewed = keepsIdentity(expected, own.identity.id.uri);
    return { files, ...own, pem, renewal: (next: TlsPem, at: Date) => check(next, renewed, at) };
  };

  return {
    fail,
    has,
    str,
    optStr,
    list,
    int,
    path,
    optPath,
    read,
    natsServers,
    hostPort,
    certificates,
    ed25519,
    identity,
    ownIdentity,
  };
}

/** The file as an object of known settings; unknown names are refused, a typo must not pass silently. */
function readConfigFile(path: string, spec: SettingsSpec): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the config file (${whyUnreadable(err)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new ConfigError(`${path}: must be a JSON object of settings`);
  const known = Object.keys(spec);
  const sections = new Set(known.filter((k) => k.includes(".")).map((k) => k.split(".")[0]));
  const unknown = (name: string) =>
    new ConfigError(
      `${path}: unknown setting ${JSON.stringify(name.slice(0, 100))} (known: ${known.join(", ")})`,
    );
  const obj = parsed as Record<string, unknown>;
  for (const [k, v] of Object.entries(obj)) {
    if (sections.has(k)) {
      if (typeof v !== "object" || v === null || Array.isArray(v))
        throw new ConfigError(`${path}: ${k} must be an object`);
      for (const sub of Object.keys(v)) if (!(`${k}.${sub}` in spec)) throw unknown(`${k}.${sub}`);
    } else if (!(k in spec)) throw unknown(k);
  }
  return obj;
}

/**
 * The command line of a process command: `--config FILE`, `--help`, and one
 * flag per setting that has one (those in `repeatable` may be given again),
 * so a setting added to a command's table is a flag too. Loads the settings;
 * a ConfigError becomes one line on stderr and exit code 1.
 */
export function commandSettings<C>(o: {
  command: string;
  args: string[];
  help: string;
  spec: SettingsSpec;
  repeatable?: readonly string[];
  load: (configPath: string | undefined, flags: Flags) => C;
}): { settings: C } | { exit: number } {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    config: { type: "string" },
    help: { type: "boolean" },
  };
  for (const flag of Object.values(o.spec))
    if (flag !== undefined)
      options[flag] = { type: "string", multiple: o.repeatable?.includes(flag) ?? false };
  const { values } = parseArgs({ args: o.args, options, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(`${o.help}\n`);
    return { exit: 0 };
  }
  const { config, help: _help, ...flags } = values;
  try {
    return { settings: o.load(typeof config === "string" ? config : undefined, flags as Flags) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${o.command}: ${err.message}\n`);
    return { exit: 1 };
  }
}
