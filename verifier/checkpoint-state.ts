import { type OpenedCheckpoint, openCheckpoint } from "./checkpoint.js";
import { corruptState, readStateObject, replaceStateFile } from "./state-file.js";

/**
 * The memory of a tile monitor (`xbus log monitor --state FILE`): the last checkpoint it verified from
 * tiles, as the log served it (signature and cosignatures), so the next run proves the log it sees then
 * extends it.
 */
export interface CheckpointState {
  format: typeof FORMAT;
  /** When this monitor verified `checkpoint` (ISO 8601): for the person reading the file, not checked. */
  verified_at: string;
  checkpoint: string;
}

const FORMAT = "xbus-log-checkpoint-state/1";

/**
 * The checkpoint the state file holds, opened with the log's vkey, or undefined when there is no file
 * yet. A file that is a link, not this JSON, or whose checkpoint does not open with `logVkey` is an
 * error naming the file: a monitor that silently started over would forget its history.
 */
export function readCheckpointState(file: string, logVkey: string): OpenedCheckpoint | undefined {
  const s = readStateObject(file, FORMAT);
  if (s === undefined) return undefined;
  if (typeof s.checkpoint !== "string") throw corruptState(file, "no checkpoint");
  const opened = openCheckpoint(s.checkpoint, { logVkey });
  if (!opened.ok) throw corruptState(file, `its checkpoint: ${opened.problem}`);
  return opened;
}

/** Replaces the state file with `checkpoint` (a note that opened), atomically (state-file.ts). */
export function writeCheckpointState(file: string, checkpoint: string, now = new Date()): void {
  const state: CheckpointState = { format: FORMAT, verified_at: now.toISOString(), checkpoint };
  replaceStateFile(file, `${JSON.stringify(state, null, 2)}\n`);
}
