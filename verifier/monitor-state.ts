import type { TreeHeadJson } from "./review-client.js";
import { corruptState, readStateObject, replaceStateFile } from "./state-file.js";
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

/**
 * The head the state file holds, or undefined when there is no file yet (a first run). A file that is
 * a symbolic link, not a regular file, not the JSON this module writes, or whose head is not a signed
 * tree head whose signature verifies with the key it names, is an error naming the file: a monitor
 * that silently started over would forget exactly the history it is kept for.
 */
export function readMonitorState(file: string): TreeHeadJson | undefined {
  const s = readStateObject(file, FORMAT);
  if (s === undefined) return undefined;
  const problem = treeHeadProblem(s.head, "its head");
  if (problem) throw corruptState(file, problem);
  return s.head as TreeHeadJson;
}

/**
 * Replaces the state file with `head`, atomically (state-file.ts): a crash at any point leaves either the
 * old state or the new one, never a torn file.
 */
export function writeMonitorState(file: string, head: TreeHeadJson, now = new Date()): void {
  const state: MonitorState = { format: FORMAT, verified_at: now.toISOString(), head };
  replaceStateFile(file, `${JSON.stringify(state, null, 2)}\n`);
}
