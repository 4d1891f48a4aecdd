import type { Io } from "../command.js";

/** "123/4567 entries" over itself on a terminal's stderr; nothing when stderr is a file or a pipe. */
export const progressTo =
  (io: Io) =>
  (done: number, total: number): void => {
    if (process.stderr.isTTY) io.err(`\r${done}/${total} entries`);
  };
