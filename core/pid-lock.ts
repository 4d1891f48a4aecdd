import { readFileSync, rmSync, writeFileSync } from "node:fs";

/** A lock file taken, or the live process that holds it (undefined when the file could not be read). */
export type PidLock = { taken: true; release(): void } | { taken: false; holder: number | undefined };

/**
 * Takes `path` as a lock file holding this process's pid. A lock whose holder has died (or that names
 * this very process) is taken over, so a crash never blocks the lock's folder for good. Errors other
 * than the file existing (a folder that cannot be written) are thrown.
 */
export function takePidLock(path: string): PidLock {
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: "wx", mode: 0o600 });
      return { taken: true, release: () => rmSync(path, { force: true }) };
    } catch (err) {
      if ((err as { code?: string }).code !== "EEXIST") throw err;
      if (attempt > 0) return { taken: false, holder: undefined };
      const holder = Number(readFileSync(path, "utf8"));
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder))
        return { taken: false, holder };
      rmSync(path, { force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}
