import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/*
 * A monitor's state file, whatever it holds (monitor-state.ts: a signed tree head; checkpoint-state.ts:
 * a checkpoint): read without following a link, replaced atomically.
 */

/** Open flags that refuse a symlink as the last part of the path (ELOOP), so a planted link cannot redirect us. */
const NOFOLLOW = constants.O_NOFOLLOW;

function refusedLink(file: string): Error {
  return new Error(
    `the state file ${file} is a symbolic link: refused, so that a link planted there cannot make the monitor read or replace another file; give the real path`,
  );
}

/**
 * The state file's text, or undefined when there is no file yet (a first run). A file that is a symbolic
 * link or not a regular file is an error naming it, as is a missing folder (the state could not be
 * written at the end).
 */
export function readStateText(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      folderProblem(file);
      return undefined;
    }
    if (code === "ELOOP") throw refusedLink(file);
    throw new Error(`the state file ${file} cannot be read: ${(err as Error).message}`);
  }
  let text: string;
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`the state file ${file} is not a regular file`);
    text = readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
  return text;
}

/** Fails before anything is fetched when the state could not be written at the end: no such folder. */
function folderProblem(file: string): void {
  const dir = dirname(file);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {}
  if (!isDir) throw new Error(`the state file's folder ${dir} does not exist`);
}

/**
 * Replaces the state file with `text`, atomically: a temp file in the same folder (mode 0600, created
 * afresh, never through a link), written and fsynced, then renamed over the file (rename replaces a link
 * itself, never its target), and the folder fsynced so the rename survives a crash. A crash at any
 * point leaves either the old state or the new one, never a torn file.
 */
export function replaceStateFile(file: string, text: string): void {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
  try {
    try {
      // The umask can only take bits away from 0600; fchmod makes it exactly 0600 either way.
      fchmodSync(fd, 0o600);
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const dfd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** A state file that cannot be trusted: refused, never silently started over. */
export function corruptState(file: string, why: string): Error {
  return new Error(
    `the state file ${file} is corrupt (${why}): refused rather than started over; restore it from a backup, or remove it knowing the next run proves nothing against history`,
  );
}

/**
 * The state file's JSON object of `format` (or of one of them, for a file whose format grew), or
 * undefined when there is no file yet; anything else is corrupt (corruptState).
 */
export function readStateObject(
  file: string,
  format: string | readonly string[],
): Record<string, unknown> | undefined {
  const formats: readonly string[] = typeof format === "string" ? [format] : format;
  const text = readStateText(file);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corruptState(file, "not JSON");
  }
  const s = parsed as { format?: unknown } | null;
  if (typeof s !== "object" || s === null || Array.isArray(s) || !formats.includes(s.format as string))
    throw corruptState(file, `not an object of format ${formats.map((f) => JSON.stringify(f)).join(" or ")}`);
  return s as Record<string, unknown>;
}
