import type { KeyObject } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { brokerOf } from "../../broker/index.js";
import { type AlertOptions, resolveAlertOptions } from "../../broker/review/alerts.js";
import type { TlsPem } from "../../core/tls/index.js";
import { type Flags, settingsReader } from "../config/settings.js";

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
}

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
  "review.listen": "review-listen",
  "review.token_hashes": "review-token-hashes",
  /** The IANA time zone of office hours for the review API's off-hours alerts (default UTC). */
  "review.alerts_time_zone": "alerts-time-zone",
} as const;

const LOG_ID = /^[A-Za-z0-9][A-Za-z0-9./_-]{0,127}$/;
const BROKER_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Reads, merges and checks the settings; throws ConfigError naming the first problem. */
export function loadBrokerConfig(
  configPath: string | undefined,
  flags: Flags = {},
  now = new Date(),
): BrokerConfig {
  const r = settingsReader(BROKER_SETTINGS, configPath, flags);

  const trustDomain = r.str("trust_domain");
  const servers = r.natsServers("nats");
  const listen = r.hostPort("listen");

  const { files, identity, pem, renewal } = r.ownIdentity(brokerOf(trustDomain), now);
  const brokerId = r.optStr("broker_id") ?? identity.id.name;
  if (!BROKER_ID.test(brokerId))
    r.fail(
      "broker_id",
      `${JSON.stringify(brokerId.slice(0, 64))} must be lowercase letters, digits and dashes`,
    );

  const crlPath = r.optPath("crl");
  if (crlPath !== undefined && !r.read("crl", crlPath).includes("BEGIN X509 CRL"))
    r.fail("crl", `${crlPath} holds no PEM CRL (xbus certs crl writes one)`);

  const signingKey = r.ed25519("signing_key", r.path("signing_key"), "private");

  const logId = r.str("log.id");
  if (!LOG_ID.test(logId))
    r.fail("log.id", "must be letters, digits and . / _ - (at most 128), e.g. gov.bt/xbus-log");
  const secretFile = r.path("log.secret");
  const secretHex = r.read("log.secret", secretFile).trim();
  if (!/^(?:[0-9a-f]{2}){32,}$/i.test(secretHex))
    r.fail("log.secret", `${secretFile} must hold at least 32 bytes as hex (e.g. \`openssl rand -hex 32\`)`);
  const logKey = r.ed25519("log.key", r.path("log.key"), "private");
  const indexPath = r.path("log.index");
  if (!existsSync(dirname(indexPath)) || !statSync(dirname(indexPath)).isDirectory())
    r.fail("log.index", `the folder of ${indexPath} does not exist`);

  const policiesDir = r.path("policies");
  if (!existsSync(policiesDir) || !statSync(policiesDir).isDirectory())
    r.fail("policies", `${policiesDir} is not a folder`);

  const reviewListen = r.hostPort("review.listen");
  const cut = reviewListen.lastIndexOf(":");
  const reviewPort = Number(reviewListen.slice(cut + 1));
  if (reviewPort > 65_535) r.fail("review.listen", `port ${reviewPort} is out of range`);
  const hashesFile = r.path("review.token_hashes");
  const tokenHashes = r
    .read("review.token_hashes", hashesFile)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  if (tokenHashes.length === 0) r.fail("review.token_hashes", `${hashesFile} holds no token hash`);
  tokenHashes.forEach((h, i) => {
    if (!/^[0-9a-f]{64}$/.test(h))
      r.fail(
        "review.token_hashes",
        `${hashesFile}: hash ${i + 1} is not a lowercase hex SHA-256 (one per line: printf %s TOKEN | sha256sum)`,
      );
  });

  const timeZone = r.optStr("review.alerts_time_zone");
  const alerts: AlertOptions | undefined = timeZone === undefined ? undefined : { offHours: { timeZone } };
  try {
    resolveAlertOptions(alerts);
  } catch {
    // The time zone is the only alert option the file sets: name it, not the library's option path.
    r.fail(
      "review.alerts_time_zone",
      `${JSON.stringify(timeZone)} is not an IANA time zone (e.g. Asia/Thimphu)`,
    );
  }

  return {
    trustDomain,
    spiffeId: identity.id.uri,
    brokerId,
    listen,
    servers,
    tls: pem,
    tlsFiles: files,
    certNotAfter: identity.notAfter,
    checkTls(next, at = new Date()) {
      renewal(next, at);
    },
    ...(crlPath !== undefined ? { crlPath } : {}),
    signingKey,
    log: { logId, logSecret: Buffer.from(secretHex, "hex"), logKey, indexPath },
    policiesDir,
    review: {
      hostname: reviewListen.slice(0, cut).replace(/^\[|\]$/g, ""),
      port: reviewPort,
      tokenHashes,
      ...(alerts ? { alerts } : {}),
    },
  };
}
