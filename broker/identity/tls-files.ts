import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { createSecureContext } from "node:tls";
import type { Logger } from "../../core/logger.js";

/**
 * A process's own certificate, key and trust bundle on disk, picked up again
 * when any of them changes: certificate renewal and CA rollover without a
 * restart. Renewal writes two files, so a reload may see a new certificate
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
  /** Puts the new set in force; may throw to refuse it. */
  onChange: (tls: TlsPem) => void;
  logger: Logger;
  /** Default 500 ms. */
  intervalMs?: number;
}

export function watchTlsFiles(o: TlsFilesOptions): TlsFilesWatcher {
  let current = o.current;
  const reload = (): boolean => {
    let next: TlsPem;
    try {
      next = {
        ca: readFileSync(o.paths.ca, "utf8"),
        cert: readFileSync(o.paths.cert, "utf8"),
        key: readFileSync(o.paths.key, "utf8"),
      };
      if (next.ca === current.ca && next.cert === current.cert && next.key === current.key) return false;
      // Throws on a certificate that does not match its key, or a file cut short.
      createSecureContext(next);
      o.onChange(next);
    } catch (err) {
      o.logger.warn({ err, cert: o.paths.cert }, "new TLS files not taken (yet); the ones in force stay");
      return false;
    }
    current = next;
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
