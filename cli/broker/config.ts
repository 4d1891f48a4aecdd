import type { KeyObject } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { z } from "zod";
import { brokerOf } from "../../broker/index.js";
import type { TlsPem } from "../../core/tls/index.js";
import type { WitnessingSettings } from "../../stack/index.js";
import {
  alertsTimeZoneSetting,
  indexPathSetting,
  logIdSetting,
  logSecretSetting,
  type ReviewSettings,
  reviewListenSetting,
  reviewSettings,
  reviewTlsSettings,
  witnessingSection,
  witnessingSetting,
} from "../config/log-settings.js";
import { ed25519Setting, ownIdentity, readSetting } from "../config/setting-files.js";
import {
  hostPort,
  metricsSection,
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
  /** Replicas XBUS_LOG and the consent bucket must have (1 on one machine, 3 in a cluster); default 1. */
  replicas: number;
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
  /** Accept replies no connector signed (migration; default refuse). */
  allowUnsignedReplies?: boolean;
  log: { logId: string; logSecret: Buffer };
  /**
   * The log service in the broker's process (log.key, log.index and review given), as before
   * `xbus log serve`; undefined when a log service runs elsewhere and the broker holds no log key.
   */
  logService?: {
    logKey: KeyObject;
    indexPath: string;
    review: ReviewSettings;
    witnessing?: WitnessingSettings | undefined;
  };
  policiesDir: string;
  /** Grants' rates federation-wide (KV counters, the default) or per broker. */
  rates: "federation" | "broker";
  /** `/metrics`, `/healthz`, `/readyz` on their own port (a broker without the review API has no other). */
  metrics?: { host: string; port: number };
  /** The exchange log's bounds (README "When the log is under pressure"); defaults when absent. */
  logLimits?: { maxBytes?: number; retryQueueBytes?: number };
}

const BROKER_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The file's shape; the order is the order problems are looked for in. */
const brokerSettings = z.strictObject({
  trust_domain: text,
  broker_id: optionalText.refine((id) => id === undefined || BROKER_ID.test(id), {
    error: (i) => `${shown(i.input, 64)} must be lowercase letters, digits and dashes`,
  }),
  listen: hostPort,
  nats: natsServers,
  replicas: wholeNumber(1, 5).optional(),
  tls: section({ ca: text, cert: text, key: text }),
  crl: optionalText,
  signing_key: text,
  allow_unsigned_replies: z.boolean().optional(),
  log: section({
    id: logIdSetting,
    secret: text,
    // With a log service elsewhere (`xbus log serve`) the broker has neither.
    key: optionalText,
    index: optionalText,
  }),
  policies: text,
  rates: z.enum(["federation", "broker"], { error: 'must be "federation" or "broker"' }).optional(),
  log_limits: section({
    max_bytes: wholeNumber(1024 * 1024, Number.MAX_SAFE_INTEGER).optional(),
    retry_queue_bytes: wholeNumber(64 * 1024, 16 * 1024 ** 3).optional(),
  }),
  review: section({
    listen: reviewListenSetting.optional(),
    token_hashes: optionalText,
    alerts_time_zone: alertsTimeZoneSetting,
    ...reviewTlsSettings,
  }),
  witnessing: witnessingSection,
  metrics: metricsSection,
});

export type BrokerSettings = z.infer<typeof brokerSettings>;

/** Every setting: path in the JSON → its flag. */
export const BROKER_SETTINGS = {
  trust_domain: "trust-domain",
  broker_id: "broker-id",
  listen: "listen",
  nats: "nats",
  /** Replicas XBUS_LOG and the consent bucket must have; a stream with another number is refused. */
  replicas: "replicas",
  "tls.ca": "ca",
  "tls.cert": "cert",
  "tls.key": "key",
  crl: "crl",
  signing_key: "signing-key",
  /** File only: a migration setting, not one to pass casually on a command line. */
  allow_unsigned_replies: undefined,
  "log.id": undefined,
  "log.secret": undefined,
  "log.key": undefined,
  "log.index": undefined,
  policies: "policies",
  rates: "rates",
  "log_limits.max_bytes": "log-max-bytes",
  "log_limits.retry_queue_bytes": "log-retry-queue-bytes",
  "review.listen": "review-listen",
  "review.token_hashes": "review-token-hashes",
  /** The IANA time zone of office hours for the review API's off-hours alerts (default UTC). */
  "review.alerts_time_zone": "alerts-time-zone",
  /** File only, as the paths of the other keys and the one switch that lowers the bar. */
  "review.tls_cert": undefined,
  "review.tls_key": undefined,
  "review.allow_insecure_http": undefined,
  "witnessing.policy": "witness-policy",
  "witnessing.alert_seconds": undefined,
  "metrics.port": "metrics-port",
  "metrics.host": undefined,
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

  const logSecret = logSecretSetting(place, "log.secret", s.log.secret);
  const logService = inProcessLogService(s, place, pem.ca);
  const policiesDir = place.path("policies", s.policies);
  if (!existsSync(policiesDir) || !statSync(policiesDir).isDirectory())
    place.fail("policies", `${policiesDir} is not a folder`);

  return {
    trustDomain: s.trust_domain,
    spiffeId: identity.id.uri,
    brokerId: s.broker_id ?? identity.id.name,
    listen: s.listen,
    servers: s.nats,
    replicas: s.replicas ?? 1,
    tls: pem,
    tlsFiles: files,
    certNotAfter: identity.notAfter,
    checkTls(next, at = new Date()) {
      renewal(next, at);
    },
    ...(crlPath !== undefined ? { crlPath } : {}),
    signingKey,
    ...(s.allow_unsigned_replies ? { allowUnsignedReplies: true } : {}),
    log: { logId: s.log.id, logSecret },
    ...(logService && { logService }),
    policiesDir,
    rates: s.rates ?? "federation",
    logLimits: {
      ...(s.log_limits.max_bytes !== undefined ? { maxBytes: s.log_limits.max_bytes } : {}),
      ...(s.log_limits.retry_queue_bytes !== undefined
        ? { retryQueueBytes: s.log_limits.retry_queue_bytes }
        : {}),
    },
    ...(s.metrics !== undefined ? { metrics: s.metrics } : {}),
  };
}

/** The settings of a log service that runs in the broker's process: all of them, or none. */
const IN_PROCESS: readonly Setting[] = ["log.key", "log.index", "review.listen", "review.token_hashes"];

function inProcessLogService(
  s: BrokerSettings,
  place: SettingsPlace<Setting>,
  ca: string,
): BrokerConfig["logService"] {
  const given = {
    "log.key": s.log.key,
    "log.index": s.log.index,
    "review.listen": s.review.listen,
    "review.token_hashes": s.review.token_hashes,
  } as const;
  const missing = IN_PROCESS.filter((k) => given[k as keyof typeof given] === undefined);
  if (missing.length === IN_PROCESS.length) {
    for (const [setting, value] of [
      ["review.alerts_time_zone", s.review.alerts_time_zone],
      ["review.tls_cert", s.review.tls_cert],
      ["review.tls_key", s.review.tls_key],
      ["review.allow_insecure_http", s.review.allow_insecure_http],
    ] as const)
      if (value !== undefined)
        place.fail(setting, "is a setting of the review API, which this broker does not run (no log.key)");
    for (const [setting, value] of [
      ["witnessing.policy", s.witnessing.policy],
      ["witnessing.alert_seconds", s.witnessing.alert_seconds],
    ] as const)
      if (value !== undefined)
        place.fail(setting, "is a setting of the log service, which this broker does not run (no log.key)");
    return undefined;
  }
  const [first] = missing;
  if (first !== undefined)
    place.fail(
      first,
      `is required with ${IN_PROCESS.filter((k) => !missing.includes(k)).join(", ")}: the log service runs in the broker's process with all of ${IN_PROCESS.join(", ")}, or elsewhere (xbus log serve) with none`,
    );
  const { key, index } = s.log as { key: string; index: string };
  const { listen, token_hashes } = s.review as { listen: string; token_hashes: string };
  const logKey = ed25519Setting(place, "log.key", place.path("log.key", key), "private");
  const witnessing = witnessingSetting(
    place,
    { policy: "witnessing.policy", alertSeconds: "witnessing.alert_seconds" },
    s.witnessing,
    { id: s.log.id, key: logKey, ca },
  );
  return {
    logKey,
    ...(witnessing && { witnessing }),
    indexPath: indexPathSetting(place, "log.index", index),
    review: reviewSettings(place, { ...s.review, listen, token_hashes }),
  };
}
