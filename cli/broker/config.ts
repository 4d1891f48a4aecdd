import type { KeyObject } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { brokerOf } from "../../broker/index.js";
import { type AlertOptions, resolveAlertOptions } from "../../broker/review/alerts.js";
import type { TlsPem } from "../../core/tls/index.js";
import { ed25519Setting, ownIdentity, readSetting } from "../config/setting-files.js";
import {
  hostPort,
  natsServers,
  optionalText,
  section,
  shown,
  text,
  wholeNumber,
} from "../config/setting-schemas.js";
import { type Flags, loadSettings, type SettingPaths, type SettingsPlace } from "../config/settings.js";

/**
 * `xbus broker`'s settings (README, "Running a broker"), checked whole before
 * anything starts. Secrets (the log secret, the signing keys) are read here and
 * never printed.
 */
export interface BrokerConfig {
  trustDomain: string;
  spiffeId: string;
  brokerId: string;
  /** host:port of xbus.v1.Exchange. */
  listen: string;
  servers: string[];
  /**
   * The broker's trust bundle, certificate and key: the files' text as read and checked at start (what a
   * renewal is told apart from, so a reload of unchanged files is no change), and the files it watches.
   */
  tls: TlsPem;
  tlsFiles: { ca: string; cert: string; key: string };
  certNotAfter: Date;
  /**
   * The start-up checks of tls.ca, tls.cert and tls.key again, on their text as read after they changed,
   * and the certificate must keep the broker's SPIFFE ID (`spiffeId`): the broker's reload refuses a set
   * that would not have started it, or would have started another broker. Throws ConfigError naming the
   * setting, the file and the reason.
   */
  checkTls(pem: TlsPem, now?: Date): void;
  crlPath?: string;
  signingKey: KeyObject;
  log: { logId: string; logSecret: Buffer; logKey: KeyObject; indexPath: string };
  policiesDir: string;
  review: { hostname: string; port: number; tokenHashes: string[]; alerts?: AlertOptions };
  /** The exchange log's bounds (README "When the log is under pressure"); defaults when absent. */
  logLimits?: { maxBytes?: number; retryQueueBytes?: number };
}

const LOG_ID = /^[A-Za-z0-9][A-Za-z0-9./_-]{0,127}$/;
const BROKER_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

const isTimeZone = (timeZone: string) => {
  try {
    resolveAlertOptions({ offHours: { timeZone } });
    return true;
  } catch {
    return false;
  }
};

/** The file's shape; the order is the order problems are looked for in. */
const brokerSettings = z.strictObject({
  trust_domain: text,
  broker_id: optionalText.refine((id) => id === undefined || BROKER_ID.test(id), {
    error: (i) => `${shown(i.input, 64)} must be lowercase letters, digits and dashes`,
  }),
  listen: hostPort,
  nats: natsServers,
  tls: section({ ca: text, cert: text, key: text }),
  crl: optionalText,
  signing_key: text,
  log: section({
    id: text.regex(LOG_ID, "must be letters, digits and . / _ - (at most 128), e.g. gov.bt/xbus-log"),
    secret: text,
    key: text,
    index: text,
  }),
  policies: text,
  log_limits: section({
    max_bytes: wholeNumber(1024 * 1024, Number.MAX_SAFE_INTEGER).optional(),
    retry_queue_bytes: wholeNumber(64 * 1024, 16 * 1024 ** 3).optional(),
  }),
  review: section({
    listen: hostPort.refine((l) => Number(l.slice(l.lastIndexOf(":") + 1)) <= 65_535, {
      error: (i) => `port ${String(i.input).slice(String(i.input).lastIndexOf(":") + 1)} is out of range`,
    }),
    token_hashes: text,
    // The time zone is the only alert option the file sets: a refusal names it, not the library's option path.
    alerts_time_zone: optionalText.refine((zone) => zone === undefined || isTimeZone(zone), {
      error: (i) => `${JSON.stringify(i.input)} is not an IANA time zone (e.g. Asia/Thimphu)`,
    }),
  }),
});

export type BrokerSettings = z.infer<typeof brokerSettings>;

/** Every setting: path in the JSON → its flag. */
export const BROKER_SETTINGS = {
  trust_domain: "trust-domain",
  broker_id: "broker-id",
  listen: "listen",
  nats: "nats",
  "tls.ca": "ca",
  "tls.cert": "cert",
  "tls.key": "key",
  crl: "crl",
  signing_key: "signing-key",
  "log.id": undefined,
  "log.secret": undefined,
  "log.key": undefined,
  "log.index": undefined,
  policies: "policies",
  "log_limits.max_bytes": "log-max-bytes",
  "log_limits.retry_queue_bytes": "log-retry-queue-bytes",
  "review.listen": "review-listen",
  "review.token_hashes": "review-token-hashes",
  /** The IANA time zone of office hours for the review API's off-hours alerts (default UTC). */
  "review.alerts_time_zone": "alerts-time-zone",
} as const satisfies Record<SettingPaths<typeof brokerSettings.shape>, string | undefined>;

type Setting = keyof typeof BROKER_SETTINGS;

/** Reads, merges and checks the settings; throws ConfigError naming the first problem. */
export function loadBrokerConfig(
  configPath: string | undefined,
  flags: Flags = {},
  now = new Date(),
): BrokerConfig {
  return loadSettings({
    spec: BROKER_SETTINGS,
    configPath,
    flags,
    schema: brokerSettings,
    check: (s, place) => checkBroker(s, place, now),
  });
}

/** The checks that read the files and folders the settings name, and what they give the broker. */
function checkBroker(s: BrokerSettings, place: SettingsPlace<Setting>, now: Date): BrokerConfig {
  const { files, identity, pem, renewal } = ownIdentity(place, s.tls, brokerOf(s.trust_domain), now);

  const crlPath = s.crl === undefined ? undefined : place.path("crl", s.crl);
  if (crlPath !== undefined && !readSetting(place, "crl", crlPath).includes("BEGIN X509 CRL"))
    place.fail("crl", `${crlPath} holds no PEM CRL (xbus certs crl writes one)`);

  const signingKey = ed25519Setting(
    place,
    "signing_key",
    place.path("signing_key", s.signing_key),
    "private",
  );

  const secretFile = place.path("log.secret", s.log.secret);
  const secretHex = readSetting(place, "log.secret", secretFile).trim();
  if (!/^(?:[0-9a-f]{2}){32,}$/i.test(secretHex))
    place.fail(
      "log.secret",
      `${secretFile} must hold at least 32 bytes as hex (e.g. \`openssl rand -hex 32\`)`,
    );
  const logKey = ed25519Setting(place, "log.key", place.path("log.key", s.log.key), "private");
  const indexPath = place.path("log.index", s.log.index);
  if (!existsSync(dirname(indexPath)) || !statSync(dirname(indexPath)).isDirectory())
    place.fail("log.index", `the folder of ${indexPath} does not exist`);

  const policiesDir = place.path("policies", s.policies);
  if (!existsSync(policiesDir) || !statSync(policiesDir).isDirectory())
    place.fail("policies", `${policiesDir} is not a folder`);

  const hashesFile = place.path("review.token_hashes", s.review.token_hashes);
  const tokenHashes = readSetting(place, "review.token_hashes", hashesFile)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  if (tokenHashes.length === 0) place.fail("review.token_hashes", `${hashesFile} holds no token hash`);
  tokenHashes.forEach((h, i) => {
    if (!/^[0-9a-f]{64}$/.test(h))
      place.fail(
        "review.token_hashes",
        `${hashesFile}: hash ${i + 1} is not a lowercase hex SHA-256 (one per line: printf %s TOKEN | sha256sum)`,
      );
  });

  const reviewListen = s.review.listen;
  const cut = reviewListen.lastIndexOf(":");
  const timeZone = s.review.alerts_time_zone;
  return {
    trustDomain: s.trust_domain,
    spiffeId: identity.id.uri,
    brokerId: s.broker_id ?? identity.id.name,
    listen: s.listen,
    servers: s.nats,
    tls: pem,
    tlsFiles: files,
    certNotAfter: identity.notAfter,
    checkTls(next, at = new Date()) {
      renewal(next, at);
    },
    ...(crlPath !== undefined ? { crlPath } : {}),
    signingKey,
    log: { logId: s.log.id, logSecret: Buffer.from(secretHex, "hex"), logKey, indexPath },
    policiesDir,
    logLimits: {
      ...(s.log_limits.max_bytes !== undefined ? { maxBytes: s.log_limits.max_bytes } : {}),
      ...(s.log_limits.retry_queue_bytes !== undefined
        ? { retryQueueBytes: s.log_limits.retry_queue_bytes }
        : {}),
    },
    review: {
      hostname: reviewListen.slice(0, cut).replace(/^\[|\]$/g, ""),
      port: Number(reviewListen.slice(cut + 1)),
      tokenHashes,
      ...(timeZone !== undefined ? { alerts: { offHours: { timeZone } } } : {}),
    },
  };
}
