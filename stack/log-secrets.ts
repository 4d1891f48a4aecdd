import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The exchange log's secrets and files for a stack in `dir`. */
export interface LogSecrets {
  /** HMAC key of subject references: a copy of the log does not list citizens. */
  readonly logSecret: Buffer;
  /** Signs tree heads. */
  readonly logKey: KeyObject;
  readonly logPublicKey: KeyObject;
  readonly keyPath: string;
  readonly secretPath: string;
  readonly indexPath: string;
  /** The log resumed (its secret and key were kept): what witnessed it before still holds. */
  readonly kept: boolean;
}

/**
 * The log's secret, signing key and index path, under `<dir>/secrets` (0700,
 * files 0600). With `resume`, against a nats-server that keeps its store, the
 * log keeps its secret, key and index across restarts; otherwise new ones are
 * made and a stale index is removed, since it would describe another stream.
 */
export function logSecrets(dir: string, resume: boolean): LogSecrets {
  const secretsDir = join(dir, "secrets");
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  const secretPath = join(secretsDir, "log-secret");
  const keyPath = join(secretsDir, "log-key.pem");
  const indexPath = join(dir, "log-index.sqlite");
  const kept = resume && existsSync(secretPath) && existsSync(keyPath);
  const logSecret = kept ? Buffer.from(readFileSync(secretPath, "utf8"), "hex") : randomBytes(32);
  const logKey = kept ? createPrivateKey(readFileSync(keyPath)) : generateKeyPairSync("ed25519").privateKey;
  if (!kept) {
    writeFileSync(secretPath, logSecret.toString("hex"), { mode: 0o600 });
    writeFileSync(keyPath, logKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    for (const suffix of ["", "-wal", "-shm"]) rmSync(indexPath + suffix, { force: true });
  }
  return { logSecret, logKey, logPublicKey: createPublicKey(logKey), keyPath, secretPath, indexPath, kept };
}
