import type { KeyObject } from "node:crypto";
import { z } from "zod";
import { logServiceOf } from "../../broker/index.js";
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
import { ed25519Setting, ownIdentity } from "../config/setting-files.js";
import { metricsSection, natsServers, section, text, wholeNumber } from "../config/setting-schemas.js";
import { type Flags, loadSettings, type SettingPaths, type SettingsPlace } from "../config/settings.js";

/**
 * `xbus log serve`'s settings (README, "Log service"), checked whole before anything starts. The log
 * key and secret are read here and never printed.
 */
export interface LogServeConfig {
  servers: string[];
  /** The identity the service presents on NATS: a `log` certificate (a broker's is still taken: README). */
  spiffeId: string;
  tls: TlsPem;
  logId: string;
  logSecret: Buffer;
  logKey: KeyObject;
  indexPath: string;
  review: ReviewSettings;
  /** How long the signer's lease lasts unrenewed before a standby takes over. */
  leaseMs: number | undefined;
  /** Witnessing, when `witnessing.policy` is set (README, "Witnessing"). */
  witnessing: WitnessingSettings | undefined;
  /** `/metrics`, `/healthz`, `/readyz` on their own port: the review API's port serves no metrics. */
  metrics?: { host: string; port: number };
}

const logServeSettings = z.strictObject({
  trust_domain: text,
  nats: natsServers,
  tls: section({ ca: text, cert: text, key: text }),
  log: section({ id: logIdSetting, secret: text, key: text, index: text }),
  review: section({
    listen: reviewListenSetting,
    token_hashes: text,
    alerts_time_zone: alertsTimeZoneSetting,
    ...reviewTlsSettings,
  }),
  signer: section({ lease_ms: wholeNumber(1000, 600_000).optional() }),
  witnessing: witnessingSection,
  metrics: metricsSection,
});

/** Every setting: path in the JSON → its flag. */
export const LOG_SERVE_SETTINGS = {
  trust_domain: "trust-domain",
  nats: "nats",
  "tls.ca": "ca",
  "tls.cert": "cert",
  "tls.key": "key",
  "log.id": undefined,
  "log.secret": undefined,
  "log.key": undefined,
  "log.index": "index",
  "review.listen": "review-listen",
  "review.token_hashes": "review-token-hashes",
  "review.alerts_time_zone": "alerts-time-zone",
  /** File only, as the paths of the other keys and the one switch that lowers the bar. */
  "review.tls_cert": undefined,
  "review.tls_key": undefined,
  "review.allow_insecure_http": undefined,
  "signer.lease_ms": "lease-ms",
  "witnessing.policy": "witness-policy",
  "witnessing.alert_seconds": undefined,
  "metrics.port": "metrics-port",
  "metrics.host": undefined,
} as const satisfies Record<SettingPaths<typeof logServeSettings.shape>, string | undefined>;

type Setting = keyof typeof LOG_SERVE_SETTINGS;

/** Reads, merges and checks the settings; throws ConfigError naming the first problem. */
export function loadLogServeConfig(
  configPath: string | undefined,
  flags: Flags = {},
  now = new Date(),
): LogServeConfig {
  return loadSettings({
    spec: LOG_SERVE_SETTINGS,
    configPath,
    flags,
    schema: logServeSettings,
    check: (s, place: SettingsPlace<Setting>) => {
      const { identity, pem } = ownIdentity(place, s.tls, logServiceOf(s.trust_domain), now);
      const logKey = ed25519Setting(place, "log.key", place.path("log.key", s.log.key), "private");
      const witnessing = witnessingSetting(
        place,
        { policy: "witnessing.policy", alertSeconds: "witnessing.alert_seconds" },
        s.witnessing,
        { id: s.log.id, key: logKey, ca: pem.ca },
      );
      return {
        servers: s.nats,
        spiffeId: identity.id.uri,
        tls: pem,
        logId: s.log.id,
        logSecret: logSecretSetting(place, "log.secret", s.log.secret),
        logKey,
        indexPath: indexPathSetting(place, "log.index", s.log.index),
        review: reviewSettings(place, s.review),
        leaseMs: s.signer.lease_ms,
        witnessing,
        ...(s.metrics !== undefined ? { metrics: s.metrics } : {}),
      };
    },
  });
}
