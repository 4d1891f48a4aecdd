import { createPrivateKey, createPublicKey, type KeyObject, type X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
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
import type { SettingsPlace } from "./settings.js";

/*
 * The settings that name files, read and checked: the part of a settings
 * schema's checks that touches the disk. A problem stops them with
 * `place.fail`, naming the setting and the file, never the file's text.
 */
type Expected = (id: WorkloadId | undefined) => string | undefined;

export function readSetting<S extends string>(place: SettingsPlace<S>, setting: S, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    return place.fail(setting, `cannot read ${file} (${whyUnreadable(err)})`);
  }
}

export function certificatesSetting<S extends string>(
  place: SettingsPlace<S>,
  setting: S,
  file: string,
): X509Certificate[] {
  return pemCertificates(file, readSetting(place, setting, file), (why) => place.fail(setting, why));
}

/** An Ed25519 key file: public (`want` "public") or private. */
export function ed25519Setting<S extends string>(
  place: SettingsPlace<S>,
  setting: S,
  file: string,
  want: "public" | "private",
): KeyObject {
  const pem = readSetting(place, setting, file);
  const fail = (why: string) => place.fail(setting, why);
  if (pem.includes("BEGIN CERTIFICATE")) fail(`${file} is a certificate, not an Ed25519 ${want} key`);
  if (want === "public" && pem.includes("PRIVATE KEY")) fail(`${file} is a private key; give the public key`);
  let key: KeyObject;
  try {
    key = want === "public" ? createPublicKey(pem) : createPrivateKey(pem);
  } catch {
    return fail(`${file} is not a PEM ${want} key`);
  }
  if (key.asymmetricKeyType !== "ed25519")
    fail(`${file} is a ${key.asymmetricKeyType} key; it must be Ed25519`);
  return key;
}

/** A certificate and its key from their files (checkIdentity), a problem named by its setting. */
export function identitySetting<S extends string>(
  place: SettingsPlace<S>,
  o: {
    cert: S;
    key: S;
    certFile: string;
    keyFile: string;
    trusted: readonly X509Certificate[];
    expected: Expected;
    now: Date;
  },
): Identity {
  return checkIdentity({
    ...o,
    certPem: readSetting(place, o.cert, o.certFile),
    keyPem: readSetting(place, o.key, o.keyFile),
    fail: (f, why) => place.fail(f === "cert" ? o.cert : o.key, why),
  });
}

/**
 * The process's own identity from `tls.ca`, `tls.cert` and `tls.key` (every process command has them):
 * checkOwnTls on the files, a problem named by its setting. `pem` is the files' text as read and checked,
 * what a renewal is compared with. `renewal` runs the same checks on the files' text as the process read
 * it again after they changed, and one more: the certificate is still the workload's (keepsIdentity).
 */
export function ownIdentity(
  place: SettingsPlace<`tls.${TlsFile}`>,
  tls: Readonly<Record<TlsFile, string>>,
  expected: Expected,
  now: Date,
) {
  const setting = { ca: "tls.ca", cert: "tls.cert", key: "tls.key" } as const;
  const files = {
    ca: place.path(setting.ca, tls.ca),
    cert: place.path(setting.cert, tls.cert),
    key: place.path(setting.key, tls.key),
  };
  const check = (pem: TlsPem, wanted: Expected, at: Date) =>
    checkOwnTls({ files, pem, expected: wanted, now: at, fail: (f, why) => place.fail(setting[f], why) });
  const pem: TlsPem = {
    ca: readSetting(place, setting.ca, files.ca),
    cert: readSetting(place, setting.cert, files.cert),
    key: readSetting(place, setting.key, files.key),
  };
  const own = check(pem, expected, now);
  const renewed = keepsIdentity(expected, own.identity.id.uri);
  return { files, ...own, pem, renewal: (next: TlsPem, at: Date) => check(next, renewed, at) };
}
