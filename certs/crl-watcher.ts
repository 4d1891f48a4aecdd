import { createHash, X509Certificate } from "node:crypto";
import { existsSync, readFileSync, renameSync, unwatchFile, watchFile, writeFileSync } from "node:fs";
import type { Logger } from "../core/index.js";
import { parseCrl } from "./crl.js";

/**
 * The broker's view of the federation CRL: loaded at start (a missing or
 * unverifiable CRL stops the start), then reloaded whenever the file changes.
 * A new file that does not parse or verify is refused and the CRL in force
 * stays, so a half-written or forged file can never un-revoke anyone.
 *
 * CRLs only move forward: per issuing CA (known by its key), a new CRL must
 * carry a higher CRL number than the highest this process has seen from that
 * CA, or be the very CRL in force. An older genuine CRL written over the
 * current one (a rollback that would un-revoke what was revoked since) is
 * refused like a forged one. The highest number per CA is also kept in a small
 * JSON file beside the CRL (`<crl>.numbers.json`, written atomically), so a
 * restarted process refuses to start with an older CRL than it had in force.
 */
export interface CrlWatcher {
  /** The PEM in force (all CRLs of the file). */
  readonly pem: string;
  /** One PEM per CRL, for the TLS context: Node reads only the first CRL of a string. */
  readonly blocks: readonly string[];
  isRevoked(serial: string): boolean;
  /** Re-reads the file now; true if it changed what is in force. */
  reload(): boolean;
  close(): void;
}

export interface CrlWatcherOptions {
  path: string;
  /** The trust bundle in force (it may change in a CA rollover); each CRL in the file must be signed by one of its CAs. */
  caPem: () => string;
  logger: Logger;
  /** Called after a new CRL is in force. */
  onChange?: (pem: string) => void;
  /** Where the highest CRL numbers are kept; default `<path>.numbers.json`. */
  statePath?: string;
  /** How often the file is polled. Default 500 ms; polling survives atomic renames that fs.watch loses. */
  intervalMs?: number;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const CRL_BLOCK = /-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g;
const WARN_BEFORE_MS = 7 * 86_400_000;

interface Loaded {
  pem: string;
  blocks: string[];
  revoked: Set<string>;
  nextUpdate: Date | undefined;
  /** Per issuing CA's key (SHA-256 of its SPKI, hex): its CRL in the file. */
  byIssuer: Map<string, IssuerCrl>;
}

interface IssuerCrl {
  issuer: string;
  number: number;
  block: string;
}

function issuerKey(caPem: string): string {
  return createHash("sha256")
    .update(new X509Certificate(caPem).publicKey.export({ type: "spki", format: "der" }))
    .digest("hex");
}

function load(path: string, bundle: string): Loaded {
  const cas = bundle.match(CERT_BLOCK) ?? [];
  if (cas.length === 0) throw new Error("the trust bundle holds no certificate");
  const text = readFileSync(path, "utf8");
  const blocks = text.match(CRL_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error(`${path} holds no PEM X509 CRL`);
  const revoked = new Set<string>();
  const byIssuer = new Map<string, IssuerCrl>();
  let nextUpdate: Date | undefined;
  for (const block of blocks) {
    let parsed: ReturnType<typeof parseCrl> | undefined;
    let signer = "";
    for (const ca of cas) {
      try {
        parsed = parseCrl(block, ca);
        signer = ca;
        break;
      } catch {
        // try the next CA of the bundle
      }
    }
    if (!parsed) throw new Error(`${path}: a CRL is not signed by any CA of the trust bundle`);
    const issuer = new X509Certificate(signer).subject.replace(/\n/g, ", ");
    // RFC 5280 §5.2.3: every CRL carries a number. Without one a rollback could not be told from an update.
    if (parsed.number === undefined) throw new Error(`${path}: the CRL of ${issuer} has no CRL number`);
    const key = issuerKey(signer);
    if (byIssuer.has(key)) throw new Error(`${path}: holds two CRLs of ${issuer}`);
    byIssuer.set(key, { issuer, number: parsed.number, block });
    for (const serial of parsed.revoked.keys()) revoked.add(serial);
    if (parsed.nextUpdate && (!nextUpdate || parsed.nextUpdate < nextUpdate)) nextUpdate = parsed.nextUpdate;
  }
  return { pem: `${blocks.join("\n")}\n`, blocks, revoked, nextUpdate, byIssuer };
}

/** The first CRL of `next` that is not newer than the highest seen from its issuer, if any. */
function rollback(
  next: Loaded,
  highest: ReadonlyMap<string, IssuerCrl>,
): { crl: IssuerCrl; seen: IssuerCrl } | undefined {
  for (const [key, crl] of next.byIssuer) {
    const seen = highest.get(key);
    if (
      seen &&
      crl.block !== seen.block &&
      (crl.number < seen.number || (crl.number === seen.number && seen.block !== ""))
    )
      return { crl, seen };
  }
  return undefined;
}

interface StoredNumbers {
  issuers: Record<string, { issuer: string; number: number }>;
}

function readNumbers(path: string): Map<string, IssuerCrl> {
  const out = new Map<string, IssuerCrl>();
  if (!existsSync(path)) return out;
  const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<StoredNumbers>;
  for (const [key, v] of Object.entries(parsed.issuers ?? {})) {
    if (!/^[0-9a-f]{64}$/.test(key) || !Number.isSafeInteger(v?.number) || typeof v?.issuer !== "string")
      throw new Error(`${path}: not a file of CRL numbers`);
    // No block: a stored number is matched by number only, so the same CRL again is not "older".
    out.set(key, { issuer: v.issuer, number: v.number, block: "" });
  }
  return out;
}

/** Written to a temporary file and renamed over: a crash leaves the old numbers or the new, never half. */
function writeNumbers(path: string, highest: ReadonlyMap<string, IssuerCrl>): void {
  const issuers: StoredNumbers["issuers"] = {};
  for (const [key, v] of highest) issuers[key] = { issuer: v.issuer, number: v.number };
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ issuers }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

export function watchCrl(o: CrlWatcherOptions): CrlWatcher {
  const statePath = o.statePath ?? `${o.path}.numbers.json`;
  let current = load(o.path, o.caPem());
  // Kept for every issuer ever seen, also one whose CRL has left the file: it must not come back older.
  const highest = readNumbers(statePath);
  for (const [key, crl] of current.byIssuer) {
    const seen = highest.get(key);
    if (seen && crl.number < seen.number) {
      throw new Error(
        `${o.path}: the CRL of ${crl.issuer} has number ${crl.number}, older than ${seen.number} in force before (${statePath}): it would roll revocations back`,
      );
    }
    highest.set(key, crl);
  }
  const persist = () => {
    try {
      writeNumbers(statePath, highest);
    } catch (err) {
      o.logger.warn(
        { crl: o.path, state: statePath, err },
        "could not keep the highest CRL numbers; a restart would not know them",
      );
    }
  };
  persist();
  const report = () => {
    const fields = {
      crl: o.path,
      revoked: current.revoked.size,
      next_update: current.nextUpdate?.toISOString(),
    };
    const left = current.nextUpdate ? current.nextUpdate.getTime() - Date.now() : Number.POSITIVE_INFINITY;
    // TLS refuses every client once the CRL's nextUpdate has passed: say so well before.
    if (left < WARN_BEFORE_MS)
      o.logger.warn(fields, "the CRL is near or past its next update; publish a new one");
    else o.logger.info(fields, "CRL in force");
  };
  report();
  const reload = (): boolean => {
    let next: typeof current;
    try {
      next = load(o.path, o.caPem());
    } catch (err) {
      o.logger.error({ crl: o.path, err }, "new CRL refused; the one in force stays");
      return false;
    }
    if (next.pem === current.pem) return false;
    const older = rollback(next, highest);
    if (older) {
      o.logger.error(
        {
          crl: o.path,
          issuer: older.crl.issuer,
          crl_number: older.crl.number,
          highest_seen: older.seen.number,
        },
        "CRL refused: its number is not higher than the one in force, so it would roll revocations back; the one in force stays",
      );
      return false;
    }
    const previous = current;
    current = next;
    try {
      o.onChange?.(next.pem);
    } catch (err) {
      current = previous;
      o.logger.error({ crl: o.path, err }, "new CRL refused by TLS; the one in force stays");
      return false;
    }
    for (const [key, crl] of next.byIssuer) highest.set(key, crl);
    persist();
    report();
    return true;
  };
  const listener = () => {
    reload();
  };
  watchFile(o.path, { interval: o.intervalMs ?? 500, persistent: false }, listener);
  return {
    get pem() {
      return current.pem;
    },
    get blocks() {
      return current.blocks;
    },
    isRevoked: (serial) => current.revoked.has(serial.toUpperCase().replace(/^0+(?=.)/, "")),
    reload,
    close: () => unwatchFile(o.path, listener),
  };
}
