import { openCheckpoint } from "./checkpoint.js";
import type { TreeHeadJson } from "./review-client.js";
import { corruptState, readStateObject, replaceStateFile } from "./state-file.js";
import { treeHeadProblem } from "./tree-head.js";

/**
 * The memory of a log monitor (`xbus log verify --state FILE`): the last tree head it verified, so the
 * next run can prove the log it is shown then extends the one it was shown before, as a Certificate
 * Transparency monitor keeps its last verified head. Without it each run compares only the two heads it
 * read itself, and a log rewritten between two cron runs goes unseen.
 *
 * Format 2 also holds the C2SP checkpoint the run verified (the note as served, with its cosignatures)
 * and the log's vkey it was opened with, so that a later run shown another checkpoint of that size can
 * print both notes. A file without a checkpoint is written as format 1, which earlier versions read.
 */
export interface MonitorState {
  format: typeof FORMAT_1 | typeof FORMAT_2;
  /** When this monitor verified `head` (ISO 8601): for the person reading the file, not checked. */
  verified_at: string;
  head: TreeHeadJson;
  checkpoint?: RememberedCheckpoint | undefined;
}

/** A checkpoint a monitor verified: the note verbatim and the log's vkey that opened it. */
export interface RememberedCheckpoint {
  vkey: string;
  note: string;
}

/** What a state file gives back: the head, and the checkpoint when the file holds one. */
export interface Remembered {
  head: TreeHeadJson;
  checkpoint?: RememberedCheckpoint | undefined;
}

const FORMAT_1 = "xbus-log-monitor-state/1";
const FORMAT_2 = "xbus-log-monitor-state/2";

/**
 * The head the state file holds (and, in format 2, the checkpoint), or undefined when there is no file
 * yet (a first run). A file that is a symbolic link, not a regular file, not the JSON this module writes,
 * whose head is not a signed tree head whose signature verifies with the key it names, or (format 2)
 * whose checkpoint does not open with the vkey beside it, is an error naming the file: a monitor that
 * silently started over would forget exactly the history it is kept for.
 */
export function readMonitorState(file: string): Remembered | undefined {
  const s = readStateObject(file, [FORMAT_1, FORMAT_2]);
  if (s === undefined) return undefined;
  const problem = treeHeadProblem(s.head, "its head");
  if (problem) throw corruptState(file, problem);
  const head = s.head as TreeHeadJson;
  if (s.format === FORMAT_1) return { head };
  const c = s.checkpoint as Partial<RememberedCheckpoint> | null | undefined;
  if (typeof c !== "object" || c === null || typeof c.vkey !== "string" || typeof c.note !== "string")
    throw corruptState(file, "its checkpoint is not an object with a vkey and a note");
  const opened = openCheckpoint(c.note, { logVkey: c.vkey });
  if (!opened.ok) throw corruptState(file, `its checkpoint: ${opened.problem}`);
  return { head, checkpoint: { vkey: c.vkey, note: c.note } };
}

/**
 * Replaces the state file with `head` (and `checkpoint`, when given: format 2), atomically
 * (state-file.ts): a crash at any point leaves either the old state or the new one, never a torn file.
 */
export function writeMonitorState(
  file: string,
  head: TreeHeadJson,
  checkpoint?: RememberedCheckpoint,
  now = new Date(),
): void {
  const state: MonitorState = checkpoint
    ? { format: FORMAT_2, verified_at: now.toISOString(), head, checkpoint }
    : { format: FORMAT_1, verified_at: now.toISOString(), head };
  replaceStateFile(file, `${JSON.stringify(state, null, 2)}\n`);
}
