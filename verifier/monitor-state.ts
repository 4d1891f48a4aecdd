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
import type { TreeHeadJson } from "./review-client.js";
import { treeHeadProblem } from "./tree-head.js";

/**
 * The memory of a log monitor (`xbus log verify --state FILE`): the last tree head it verified, so the
 * next run can prove the log it is shown then extends the one it was shown before, as a Certificate
 * Transparency monitor keeps its last verified head. Without it each run compares only the two heads it
 * read itself, and a log rewritten between two cron runs goes unseen.
 */
export interface MonitorState {
  format: typeof FORMAT;
  /** When this monitor verified `head` (ISO 8601): for the person reading the file, not checked. */
  verified_at: string;
  head: TreeHeadJson;
}

const FORMAT = "xbus-log-monitor-state/1";

/** Open flags that refuse a symlink as the last part of the path (ELOOP), so a planted link cannot redirect us. */
const NOFOLLOW = constants.O_NOFOLLOW;

function refusedLink(file: string): Error {
  return new Error(
    `the state file ${file} is a symbolic link: refused, so that a link planted there cannot make the monitor read or replace another file; give the real path`,
  );
}

/**
 * The head the state file holds, or undefined when there is no file yet (a first run). A file that is
 * a symbolic link, not a regular file, not the JSON this module writes, or whose head is not a signed
 * tree head whose signature verifies with the key it names, is an error naming the file: a monitor
 * that silently started over would forget exactly the history it is kept for.
 */
export function readMonitorState(file: string): TreeHeadJson | undefined {
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
  const corrupt = (why: string) =>
    new Error(
      `the state file ${file} is corrupt (${why}): refused rather than started over; restore it from a backup, or remove it knowing the next run proves nothing against history`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corrupt("not JSON");
  }
  const s = parsed as Partial<MonitorState> | null;
  if (typeof s !== "object" || s === null || s.format !== FORMAT)
    throw corrupt(`not an object of format ${JSON.stringify(FORMAT)}`);
  const problem = treeHeadProblem(s.head, "its head");
  if (problem) throw corrupt(problem);
  return s.head as TreeHeadJson;
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
 * Replaces the state file with `head`, atomically: a temp file in the same folder (mode 0600, created
 * afresh, never through a link), written and fsynced, then renamed over the file (rename replaces a link
 * itself, never its target), and the folder fsynced so the rename survives a crash. A crash at any
 * point leaves either the old state or the new one, never a torn file.
 */
export function writeMonitorState(file: string, head: TreeHeadJson, now = new Date()): void {
  const dir = dirname(file);
  const state: MonitorState = { format: FORMAT, verified_at: now.toISOString(), head };
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
  try {
    try {
      // The umask can only take bits away from 0600; fchmod makes it exactly 0600 either way.
      fchmodSync(fd, 0o600);
      writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
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
