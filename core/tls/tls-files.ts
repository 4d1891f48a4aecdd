import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { createSecureContext } from "node:tls";
import type { Logger } from "../logger.js";

/**
 * A process's own certificate, key and trust bundle on disk, picked up again
 * when any of them changes: certificate renewal and CA rollover without a
 * restart (the broker's TLS, the connector's reply signatures and adapter
 * client). Renewal writes two files, so a reload may see a new certificate
 * with the old key; such a pair is refused and the next change completes it.
 */
export interface TlsFilePaths {
  ca: string;
  cert: string;
  key: string;
}

export interface TlsPem {
  ca: string;
  cert: string;
  key: string;
}

export interface TlsFilesWatcher {
  /** Reads the files now; true if a new, consistent set was handed to onChange. */
  reload(): boolean;
  close(): void;
}

export interface TlsFilesOptions {
  paths: TlsFilePaths;
  /** What is in force now; a reload that reads the same is no change. */
  current: TlsPem;
  /**
   * Refuses a new set before it is tried, by throwing an error whose message names the file and what is
   * wrong with it: a clearer reason in the log than OpenSSL's "key values mismatch".
   */
  check?: (tls: TlsPem) => void;
  /** Puts the new set in force; may throw to refuse it. */
  onChange: (tls: TlsPem) => void;
  logger: Logger;
  /** Default 500 ms. */
  intervalMs?: number;
}

const same = (a: TlsPem, b: TlsPem | undefined) =>
  b !== undefined && a.ca === b.ca && a.cert === b.cert && a.key === b.key;

export function watchTlsFiles(o: TlsFilesOptions): TlsFilesWatcher {
  let current = o.current;
  // Two files written in one poll wake two listeners that read the same set: it is refused and logged once.
  let refused: TlsPem | undefined;
  const reload = (): boolean => {
    let next: TlsPem | undefined;
    try {
      next = {
        ca: readFileSync(o.paths.ca, "utf8"),
        cert: readFileSync(o.paths.cert, "utf8"),
        key: readFileSync(o.paths.key, "utf8"),
      };
      if (same(next, current) || same(next, refused)) return false;
      o.check?.(next);
      // Throws on a certificate that does not match its key, or a file cut short.
      createSecureContext(next);
      o.onChange(next);
    } catch (err) {
      refused = next;
      o.logger.warn({ err, cert: o.paths.cert }, "new TLS files not taken (yet); the ones in force stay");
      return false;
    }
    current = next;
    refused = undefined;
    return true;
  };
  const listener = () => {
    reload();
  };
  const files = [o.paths.ca, o.paths.cert, o.paths.key];
  for (const f of files) watchFile(f, { interval: o.intervalMs ?? 500, persistent: false }, listener);
  return {
    reload,
    close: () => {
      for (const f of files) unwatchFile(f, listener);
    },
  };
}
