import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isAgencyName } from "../../core/service-name.js";
import { parseWorkloadId, spiffeIdsFromSubjectAltName } from "../../core/spiffe-id.js";

/**
 * `xbus connector`'s settings: a JSON file, each setting also a flag (the flag
 * wins). Everything is checked before anything starts, and a problem is named
 * by its setting and where it came from (`connector.json: tls.key` or
 * `--key`). Messages name files, never their contents: no key or certificate
 * text reaches a terminal or a log.
 */
export interface ConnectorConfig {
  agency: string;
  /** The connector's SPIFFE ID, from its certificate. */
  spiffeId: string;
  /** The `<name>` of `spiffe://<td>/agency/<agency>/connector/<name>`. */
  name: string;
  servers: string[];
  /** For NATS: file paths, read again by nats.js on every reconnect. */
  tlsFiles: { caFile: string; certFile: string; keyFile: string };
  /** The connector's certificate and key as they were at start: the reply signer's. */
  certPem: string;
  key: KeyObject;
  certNotAfter: Date;
  brokerKeys: KeyObject[];
  adapter: { address: string; serverName?: string; tls: { ca: string; cert: string; key: string } };
  maxInFlight?: number;
  metrics?: { host: string; port: number };
}

/** A setting that cannot be used; the message names it and where it came from. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** The settings as flags, all optional; `undefined` means not given. */
export interface ConnectorFlags {
  agency?: string | undefined;
  "trust-domain"?: string | undefined;
  nats?: string[] | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  "broker-key"?: string[] | undefined;
  adapter?: string | undefined;
  "adapter-server-name"?: string | undefined;
  "max-in-flight"?: string | undefined;
  "metrics-port"?: string | undefined;
}

/** Every setting of the file: path in the JSON → its flag. */
const SETTINGS = {
  agency: "agency",
  trust_domain: "trust-domain",
  nats: "nats",
  "tls.ca": "ca",
  "tls.cert": "cert",
  "tls.key": "key",
  broker_keys: "broker-key",
  "adapter.address": "adapter",
  "adapter.server_name": "adapter-server-name",
  "adapter.ca": undefined,
  "adapter.cert": undefined,
  "adapter.key": undefined,
  max_in_flight: "max-in-flight",
  "metrics.port": "metrics-port",
  "metrics.host": undefined,
} as const satisfies Record<string, keyof ConnectorFlags | undefined>;
type Setting = keyof typeof SETTINGS;
const SECTIONS = new Set(["tls", "adapter", "metrics"]);

const HOST_PORT = /^[A-Za-z0-9.-]+:[0-9]{1,5}$|^\[[0-9a-fA-F:]+\]:[0-9]{1,5}$/;
const NATS_URL = /^(nats|tls):\/\/[^\s/]+$|^[A-Za-z0-9.-]+:[0-9]{1,5}$/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Reads, merges and checks the settings; throws ConfigError naming the first problem. */
export function loadConnectorConfig(
  configPath: string | undefined,
  flags: ConnectorFlags = {},
  now = new Date(),
): ConnectorConfig {
  const file = configPath === undefined ? undefined : readConfigFile(configPath);
  const baseDir = configPath === undefined ? process.cwd() : dirname(resolve(configPath));

  /** Where a setting came from, for messages: the flag when given, else the file's key. */
  const origin = (s: Setting): string => {
    const flag = SETTINGS[s];
    if (flag && flags[flag] !== undefined) return `--${flag}`;
    return configPath === undefined ? `--${flag ?? s}` : `${configPath}: ${s}`;
  };
  const fail = (s: Setting, why: string): never => {
    throw new ConfigError(`${origin(s)}: ${why}`);
  };
  const raw = (s: Setting): unknown => {
    const flag = SETTINGS[s];
    if (flag && flags[flag] !== undefined) return flags[flag];
    const [a, b] = s.split(".") as [string, string | undefined];
    const v = file?.[a];
    return b === undefined ? v : (v as Record<string, unknown> | undefined)?.[b];
  };
  /** Flag paths are the shell's (cwd); file paths are relative to the file. */
  const pathOf = (s: Setting, value: string) => {
    const flag = SETTINGS[s];
    return resolve(flag && flags[flag] !== undefined ? process.cwd() : baseDir, value);
  };
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
  const read = (s: Setting, path: string): string => {
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code;
      return fail(s, `cannot read ${path} (${why ?? "unreadable"})`);
    }
  };
  const certificates = (s: Setting, path: string, text = read(s, path)): X509Certificate[] => {
    const blocks = text.match(PEM_CERT) ?? [];
    if (blocks.length === 0) fail(s, `${path} holds no PEM certificate`);
    return blocks.map((b) => {
      try {
        return new X509Certificate(b);
      } catch {
        return fail(s, `${path} holds a PEM certificate that does not parse`);
      }
    });
  };
  const privateKey = (s: Setting, path: string, pem: string): KeyObject => {
    try {
      return createPrivateKey(pem);
    } catch {
      return fail(s, `${path} is not a PEM private key (or it is encrypted)`);
    }
  };

  // Agency and identity first: every later message is about this agency's connector.
  const agency = str("agency");
  if (!isAgencyName(agency))
    fail(
      "agency",
      `${JSON.stringify(agency.slice(0, 64))} is not an agency name (lowercase letters, digits and dashes, starting with a letter)`,
    );
  const trustDomain = optStr("trust_domain");

  const servers = list("nats");
  for (const u of servers)
    if (!NATS_URL.test(u))
      fail(
        "nats",
        `${JSON.stringify(u.slice(0, 100))} is not a NATS URL (nats://HOST:PORT or tls://HOST:PORT)`,
      );

  const caFile = pathOf("tls.ca", str("tls.ca"));
  const certFile = pathOf("tls.cert", str("tls.cert"));
  const keyFile = pathOf("tls.key", str("tls.key"));
  const bundle = certificates("tls.ca", caFile);
  /** A connector certificate of this agency, with its key, issued by the bundle, valid now. */
  const checkIdentity = (o: {
    certSetting: Setting;
    keySetting: Setting;
    certFile: string;
    keyFile: string;
    trusted: X509Certificate[];
  }) => {
    const certPem = read(o.certSetting, o.certFile);
    const [cert] = certificates(o.certSetting, o.certFile, certPem);
    if (!cert) return fail(o.certSetting, `${o.certFile} holds no PEM certificate`);
    const keyPem = read(o.keySetting, o.keyFile);
    const key = privateKey(o.keySetting, o.keyFile, keyPem);
    if (!cert.checkPrivateKey(key))
      fail(o.keySetting, `${o.keyFile} is not the key of the certificate in ${o.certFile}`);
    const ids = spiffeIdsFromSubjectAltName(cert.subjectAltName);
    const expected = `spiffe://${trustDomain ?? "<trust-domain>"}/agency/${agency}/connector/<name>`;
    if (ids.length !== 1 || ids[0] === undefined)
      return fail(
        o.certSetting,
        `${o.certFile} carries ${ids.length} SPIFFE IDs; a connector's certificate carries one, ${expected}`,
      );
    let id: ReturnType<typeof parseWorkloadId>;
    try {
      id = parseWorkloadId(ids[0]);
    } catch {
      return fail(o.certSetting, `${o.certFile}: ${ids[0].slice(0, 200)} is not a workload SPIFFE ID`);
    }
    if (id.role !== "connector" || id.agency !== agency || (trustDomain && id.trustDomain !== trustDomain))
      fail(
        o.certSetting,
        `${o.certFile} is the certificate of ${id.uri}, not of a connector of agency ${agency} (${expected})`,
      );
    const notBefore = new Date(cert.validFrom);
    const notAfter = new Date(cert.validTo);
    if (now < notBefore) fail(o.certSetting, `${o.certFile} is not valid until ${notBefore.toISOString()}`);
    if (now > notAfter) fail(o.certSetting, `${o.certFile} expired on ${notAfter.toISOString()}`);
    if (!o.trusted.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey)))
      fail(o.certSetting, `${o.certFile} was not issued by a CA of the trust bundle`);
    return { cert, certPem, key, keyPem, id, notAfter };
  };

  const identity = checkIdentity({
    certSetting: "tls.cert",
    keySetting: "tls.key",
    certFile,
    keyFile,
    trusted: bundle,
  });

  const brokerKeys = list("broker_keys").map((p) => {
    const path = pathOf("broker_keys", p);
    const pem = read("broker_keys", path);
    if (pem.includes("PRIVATE KEY"))
      fail("broker_keys", `${path} is a private key; give the broker's public route-signing key`);
    if (pem.includes("BEGIN CERTIFICATE"))
      fail("broker_keys", `${path} is a certificate; give the broker's route-signing public key`);
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch {
      return fail("broker_keys", `${path} is not a PEM public key`);
    }
    if (key.asymmetricKeyType !== "ed25519")
      fail("broker_keys", `${path} is a ${key.asymmetricKeyType} key; route signatures are Ed25519`);
    return key;
  });

  const address = str("adapter.address");
  if (!HOST_PORT.test(address))
    fail("adapter.address", `must be HOST:PORT, got ${JSON.stringify(address.slice(0, 100))}`);
  const serverName = optStr("adapter.server_name");
  // The adapter admits only connectors of its own agency: by default the same identity as on NATS.
  const adapterCa = optStr("adapter.ca");
  const adapterCert = optStr("adapter.cert");
  const adapterKey = optStr("adapter.key");
  if ((adapterCert === undefined) !== (adapterKey === undefined))
    fail(
      adapterCert === undefined ? "adapter.cert" : "adapter.key",
      "adapter.cert and adapter.key go together",
    );
  const adapterBundle =
    adapterCa === undefined ? bundle : certificates("adapter.ca", pathOf("adapter.ca", adapterCa));
  let adapterTls = {
    ca: adapterBundle.map((c) => c.toString()).join(""),
    cert: identity.certPem,
    key: identity.keyPem,
  };
  if (adapterCert !== undefined && adapterKey !== undefined) {
    const own = checkIdentity({
      certSetting: "adapter.cert",
      keySetting: "adapter.key",
      certFile: pathOf("adapter.cert", adapterCert),
      keyFile: pathOf("adapter.key", adapterKey),
      trusted: [...bundle, ...adapterBundle],
    });
    adapterTls = { ...adapterTls, cert: own.certPem, key: own.keyPem };
  }

  const maxInFlight = int("max_in_flight", 1, 100_000);
  const metricsPort = int("metrics.port", 0, 65_535);
  const metricsHost = optStr("metrics.host");
  if (metricsHost !== undefined && metricsPort === undefined)
    fail("metrics.host", "metrics.host needs metrics.port");

  return {
    agency,
    spiffeId: identity.id.uri,
    name: identity.id.name,
    servers,
    tlsFiles: { caFile, certFile, keyFile },
    certPem: identity.certPem,
    key: identity.key,
    certNotAfter: identity.notAfter,
    brokerKeys,
    adapter: {
      address,
      ...(serverName !== undefined ? { serverName } : {}),
      tls: adapterTls,
    },
    ...(maxInFlight !== undefined ? { maxInFlight } : {}),
    ...(metricsPort !== undefined
      ? { metrics: { host: metricsHost ?? "127.0.0.1", port: metricsPort } }
      : {}),
  };
}

/** The file as an object of known settings; unknown names are refused, a typo must not pass silently. */
function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${path}: cannot read the config file (${code === "ENOENT" ? "no such file" : (code ?? "unreadable")})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new ConfigError(`${path}: must be a JSON object of settings`);
  const known = new Set(Object.keys(SETTINGS));
  const obj = parsed as Record<string, unknown>;
  for (const [k, v] of Object.entries(obj)) {
    if (SECTIONS.has(k)) {
      if (typeof v !== "object" || v === null || Array.isArray(v))
        throw new ConfigError(`${path}: ${k} must be an object`);
      for (const sub of Object.keys(v))
        if (!known.has(`${k}.${sub}`)) throw unknown(path, `${k}.${sub}`, known);
    } else if (!known.has(k)) throw unknown(path, k, known);
  }
  return obj;
}

function unknown(path: string, name: string, known: Set<string>): ConfigError {
  return new ConfigError(
    `${path}: unknown setting ${JSON.stringify(name.slice(0, 100))} (known: ${[...known].join(", ")})`,
  );
}
