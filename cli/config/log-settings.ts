import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { checkpointSigner } from "../../broker/index.js";
import type { AlertOptions } from "../../broker/review/alerts.js";
import { resolveAlertOptions } from "../../broker/review/alerts.js";
import { reviewListenProblem } from "../../broker/review/serve.js";
import { policyWitnesses, type WitnessingSettings } from "../../stack/index.js";
import { parseWitnessPolicy, type WitnessPolicy } from "../../verifier/index.js";
import { readSetting } from "./setting-files.js";
import { hostPort, optionalText, section, text, wholeNumber } from "./setting-schemas.js";
import type { SettingsPlace } from "./settings.js";

/*
 * The exchange log's and the review API's settings, shared by `xbus broker` (the log's id and secret,
 * and the whole log service when it runs in the broker's process) and `xbus log serve`.
 */

export const LOG_ID = /^[A-Za-z0-9][A-Za-z0-9./_-]{0,127}$/;
export const logIdSetting = text.regex(
  LOG_ID,
  "must be letters, digits and . / _ - (at most 128), e.g. gov.bt/xbus-log",
);

const isTimeZone = (timeZone: string) => {
  try {
    resolveAlertOptions({ offHours: { timeZone } });
    return true;
  } catch {
    return false;
  }
};

export const reviewListenSetting = hostPort.refine((l) => Number(l.slice(l.lastIndexOf(":") + 1)) <= 65_535, {
  error: (i) => `port ${String(i.input).slice(String(i.input).lastIndexOf(":") + 1)} is out of range`,
});

// The time zone is the only alert option the file sets: a refusal names it, not the library's option path.
export const alertsTimeZoneSetting = optionalText.refine((zone) => zone === undefined || isTimeZone(zone), {
  error: (i) => `${JSON.stringify(i.input)} is not an IANA time zone (e.g. Asia/Thimphu)`,
});

export interface ReviewSettings {
  hostname: string;
  port: number;
  tokenHashes: string[];
  alerts?: AlertOptions;
  /** review.tls_cert and review.tls_key, PEM: the API answers over HTTPS. */
  tls?: { cert: string; key: string };
  /** review.allow_insecure_http: plain HTTP on an address that is not loopback. */
  allowInsecureHttp?: boolean;
}

/** The review API's own settings in a file's `review` section, beside listen and token_hashes. */
export const reviewTlsSettings = {
  tls_cert: optionalText,
  tls_key: optionalText,
  allow_insecure_http: z.boolean({ error: "must be true or false" }).optional(),
};

/** The HMAC key of subject references, from its file of hex. */
export function logSecretSetting<S extends string>(
  place: SettingsPlace<S>,
  setting: S,
  value: string,
): Buffer {
  const file = place.path(setting, value);
  const hex = readSetting(place, setting, file).trim();
  if (!/^(?:[0-9a-f]{2}){32,}$/i.test(hex))
    place.fail(setting, `${file} must hold at least 32 bytes as hex (e.g. \`openssl rand -hex 32\`)`);
  return Buffer.from(hex, "hex");
}

/** The index's path; its folder must exist. */
export function indexPathSetting<S extends string>(
  place: SettingsPlace<S>,
  setting: S,
  value: string,
): string {
  const path = place.path(setting, value);
  if (!existsSync(dirname(path)) || !statSync(dirname(path)).isDirectory())
    place.fail(setting, `the folder of ${path} does not exist`);
  return path;
}

/** The review section's settings, named alike in `xbus broker`'s file and `xbus log serve`'s. */
const SETTING = {
  tokenHashes: "review.token_hashes",
  listen: "review.listen",
  tlsCert: "review.tls_cert",
  tlsKey: "review.tls_key",
} as const;
type ReviewSetting = (typeof SETTING)[keyof typeof SETTING];

/**
 * The review API's listen address, token hashes (from their file), alert time zone and TLS. A listen
 * address that is not loopback needs a certificate or review.allow_insecure_http (serve.ts).
 */
export function reviewSettings<S extends string>(
  place: SettingsPlace<S | ReviewSetting>,
  s: {
    listen: string;
    token_hashes: string;
    alerts_time_zone?: string | undefined;
    tls_cert?: string | undefined;
    tls_key?: string | undefined;
    allow_insecure_http?: boolean | undefined;
  },
): ReviewSettings {
  const hashesFile = place.path(SETTING.tokenHashes, s.token_hashes);
  const tokenHashes = readSetting(place, SETTING.tokenHashes, hashesFile)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  if (tokenHashes.length === 0) place.fail(SETTING.tokenHashes, `${hashesFile} holds no token hash`);
  tokenHashes.forEach((h, i) => {
    if (!/^[0-9a-f]{64}$/.test(h))
      place.fail(
        SETTING.tokenHashes,
        `${hashesFile}: hash ${i + 1} is not a lowercase hex SHA-256 (one per line: printf %s TOKEN | sha256sum)`,
      );
  });
  const cut = s.listen.lastIndexOf(":");
  const timeZone = s.alerts_time_zone;
  const tls = reviewTls(place, s);
  const review: ReviewSettings = {
    hostname: s.listen.slice(0, cut).replace(/^\[|\]$/g, ""),
    port: Number(s.listen.slice(cut + 1)),
    tokenHashes,
    ...(timeZone !== undefined ? { alerts: { offHours: { timeZone } } } : {}),
    ...(tls ? { tls } : {}),
    ...(s.allow_insecure_http ? { allowInsecureHttp: true } : {}),
  };
  const problem = reviewListenProblem(review);
  if (problem) place.fail(SETTING.listen, problem);
  return review;
}

/** review.tls_cert and review.tls_key: both or neither, a certificate and the key that matches it. */
function reviewTls(
  place: SettingsPlace<ReviewSetting>,
  s: { tls_cert?: string | undefined; tls_key?: string | undefined },
): { cert: string; key: string } | undefined {
  if (s.tls_cert === undefined && s.tls_key === undefined) return undefined;
  if (s.tls_cert === undefined) return place.fail(SETTING.tlsCert, "is required with review.tls_key");
  if (s.tls_key === undefined) return place.fail(SETTING.tlsKey, "is required with review.tls_cert");
  const certFile = place.path(SETTING.tlsCert, s.tls_cert);
  const keyFile = place.path(SETTING.tlsKey, s.tls_key);
  const cert = readSetting(place, SETTING.tlsCert, certFile);
  const key = readSetting(place, SETTING.tlsKey, keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    return place.fail(SETTING.tlsCert, `${certFile} holds no PEM certificate`);
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch {
    return place.fail(SETTING.tlsKey, `${keyFile} holds no PEM private key`);
  }
  if (!matches) place.fail(SETTING.tlsKey, `${keyFile} is not the key of ${certFile}`);
  return { cert, key };
}

/** The log service's `witnessing` section (README, "Witnessing"): its policy file and alert threshold. */
export const witnessingSection = section({
  policy: optionalText,
  alert_seconds: wholeNumber(1, 86_400).optional(),
});

/**
 * Witnessing from its settings: the policy read and checked (a witness with a URL, this log's vkey in its
 * log lines); https witnesses are checked against `ca`, the federation's trust bundle. Undefined without a
 * policy; an alert threshold without one is refused.
 */
export function witnessingSetting<S extends string>(
  place: SettingsPlace<S>,
  settings: { policy: S; alertSeconds: S },
  s: { policy?: string | undefined; alert_seconds?: number | undefined },
  log: { id: string; key: KeyObject; ca: string },
): WitnessingSettings | undefined {
  if (s.policy === undefined) {
    if (s.alert_seconds !== undefined) place.fail(settings.alertSeconds, "needs witnessing.policy");
    return undefined;
  }
  const file = place.path(settings.policy, s.policy);
  const text = readSetting(place, settings.policy, file);
  let policy: WitnessPolicy;
  try {
    policy = parseWitnessPolicy(text);
    policyWitnesses(policy, checkpointSigner(log.id, log.key).vkey);
  } catch (err) {
    return place.fail(settings.policy, `${file}: ${(err as Error).message}`);
  }
  return { policy, ca: log.ca, alertSeconds: s.alert_seconds };
}
