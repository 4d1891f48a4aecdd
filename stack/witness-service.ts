import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, lstatSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import type { Logger } from "../core/index.js";
import { cosignerVkey, isKeyName, parseVkey, SIG_ED25519 } from "../core/log-format/index.js";
import { rawEd25519 } from "../core/signing/index.js";
import { createWitness, witnessApp } from "../witness/index.js";
import { makePrivateDir } from "./private-files.js";

/** The witness's key and state inside its state folder. */
export const WITNESS_KEY_FILE = "witness-key.pem";
export const WITNESS_STATE_FILE = "witness-state.json";

export interface WitnessServiceOptions {
  /** The witness's key name (its cosignature lines and vkey carry it), e.g. `witness.audit.gov.bt`. */
  name: string;
  /** Its state folder (made 0700 if missing): the Ed25519 key (made on first start, 0600) and the state. */
  stateDir: string;
  /** The logs it cosigns: each log's vkey (the origin is the vkey's name). At least one. */
  logVkeys: readonly string[];
  /** Default 127.0.0.1 (loopback); port 0 picks a free one. */
  hostname?: string;
  port?: number;
  /** Serve HTTPS with this certificate and key (PEM), e.g. a `server` certificate from the federation CA. */
  tls?: { cert: string; key: string };
  logger: Logger;
  /** POSIX seconds for cosignature times; default the clock (tests). */
  now?: () => number;
}

export interface WitnessService {
  /** `http(s)://HOST:PORT`: its submission and monitoring prefix. */
  readonly url: string;
  /** Its verifier key (`<name>+<key ID>+<type 0x04 key>`): what a tlog-policy's witness line holds. */
  readonly vkey: string;
  /** The origins it knows. */
  readonly origins: readonly string[];
  close(): Promise<void>;
}

/**
 * The witness's own Ed25519 key, from `<stateDir>/witness-key.pem`, made on first start (PKCS#8, 0600,
 * written exclusively so two starts cannot make two keys). A key file another user may read is refused.
 */
export function witnessKey(stateDir: string): { key: KeyObject; made: boolean } {
  makePrivateDir(stateDir);
  const path = join(stateDir, WITNESS_KEY_FILE);
  if (!existsSync(path)) {
    const { privateKey } = generateKeyPairSync("ed25519");
    try {
      writeFileSync(path, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
      chmodSync(path, 0o600);
      return { key: privateKey, made: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  const mode = lstatSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw new Error(
      `${path}: the witness key is readable by others (mode ${mode.toString(8)}); chmod 600 it`,
    );
  const key = createPrivateKey(readFileSync(path));
  if (key.asymmetricKeyType !== "ed25519")
    throw new Error(`${path}: the witness key is ${key.asymmetricKeyType}, not Ed25519`);
  return { key, made: false };
}

/** Each log vkey checked (an Ed25519 note key, one per origin): origin → vkey. Throws naming the bad one. */
export function witnessLogs(logVkeys: readonly string[]): Map<string, string> {
  if (logVkeys.length === 0) throw new Error("a witness needs at least one log (its vkey)");
  const logs = new Map<string, string>();
  for (const v of logVkeys) {
    let parsed: ReturnType<typeof parseVkey>;
    try {
      parsed = parseVkey(v);
    } catch (err) {
      throw new Error(`log ${JSON.stringify(v.slice(0, 100))}: ${(err as Error).message}`);
    }
    if (parsed.type !== SIG_ED25519)
      throw new Error(`log ${parsed.name}: not a log's Ed25519 note key (type ${parsed.type})`);
    if (logs.has(parsed.name)) throw new Error(`log ${parsed.name} is listed twice`);
    logs.set(parsed.name, v);
  }
  return logs;
}

/**
 * `xbus witness`: a C2SP tlog-witness (witness/) over HTTP, with its key and its state (the latest
 * cosigned size, root and checkpoint per log, replaced atomically) in its state folder, so a restart
 * keeps refusing what it refused before. Loopback by default; HTTPS when given a certificate.
 */
export async function startWitnessService(o: WitnessServiceOptions): Promise<WitnessService> {
  if (!isKeyName(o.name)) throw new Error(`witness name ${JSON.stringify(o.name)}: no spaces or "+"`);
  const logs = witnessLogs(o.logVkeys);
  const { key, made } = witnessKey(o.stateDir);
  const vkey = cosignerVkey(o.name, rawEd25519(createPublicKey(key)));
  const witness = createWitness({
    name: o.name,
    key,
    logs,
    statePath: join(o.stateDir, WITNESS_STATE_FILE),
    ...(o.now && { now: o.now }),
  });
  const app = witnessApp(witness, logs.keys());
  const hostname = o.hostname ?? "127.0.0.1";
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        hostname,
        port: o.port ?? 0,
        ...(o.tls && {
          createServer: createHttpsServer,
          serverOptions: { cert: o.tls.cert, key: o.tls.key },
        }),
      },
      () => resolve(s),
    );
    s.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const url = `${o.tls ? "https" : "http"}://${host}:${port}`;
  o.logger.info(
    { url, vkey, logs: [...logs.keys()], key_made: made },
    made ? "witness key made" : "witness started",
  );
  return {
    url,
    vkey,
    origins: [...logs.keys()],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
