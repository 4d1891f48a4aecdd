import { chmodSync, closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The dev folder holds the reviewer token (dev.json), keys and the log index:
 * only its owner may enter it (0700), and those files are the owner's alone
 * (0600), whatever the umask (issue 19, finding 7). `mode` on create does not
 * change an existing file or folder, so each is also chmod-ed.
 */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Creates `path` empty if missing, and makes it 0600 (SQLite gives its -wal and -shm files the same mode). */
export function makePrivateFile(path: string): void {
  closeSync(openSync(path, "a", 0o600));
  chmodSync(path, 0o600);
}

/** Writes dev.json (it holds the review API's token), 0600. */
export function writeDevJson(dir: string, json: unknown): string {
  const path = join(dir, "dev.json");
  writeFileSync(path, `${JSON.stringify(json, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
