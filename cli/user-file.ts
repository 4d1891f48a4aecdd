import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";

/** Why a file could not be opened or read, in words a reader knows: ENOENT is "no such file". */
export function whyUnreadable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a directory";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    default:
      return code ?? (err instanceof Error ? err.message : "unreadable");
  }
}

/** "cannot read FILE: no such file": one line naming the file and the reason, for a file the user named. */
export function cannotRead(path: string, err: unknown): Error {
  return new Error(`cannot read ${path}: ${whyUnreadable(err)}`, { cause: err });
}

/** readFileSync of a file the user named; a failure says which file and why, never Node's raw message. */
export function readUserFile(path: string): Buffer;
export function readUserFile(path: string, encoding: "utf8"): string;
export function readUserFile(path: string, encoding?: "utf8"): Buffer | string {
  try {
    return encoding ? readFileSync(path, encoding) : readFileSync(path);
  } catch (err) {
    throw cannotRead(path, err);
  }
}

/** Checks a file the user named can be read before it is streamed (a stream would fail later, raw). */
export function checkReadable(path: string): void {
  try {
    const fd = openSync(path, "r");
    try {
      // Opening a directory for reading succeeds on Linux; reading it is what fails.
      if (fstatSync(fd).isDirectory()) throw Object.assign(new Error(path), { code: "EISDIR" });
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw cannotRead(path, err);
  }
}
