import type { Io, XbusCommand } from "./command.js";
import { commands } from "./index.js";
import { runProgram } from "./program.js";

/** `xbus ARGV`, every subcommand known; resolves to the exit code (README: 0 done, 1 failed, 2 usage). */
export function runXbus(argv: readonly string[], io?: Io): Promise<number> {
  return runProgram(commands, argv, io);
}

/** `xbus NAME ARGS…`: one subcommand run as from the command line. */
export function runCommand(command: XbusCommand, args: readonly string[], io?: Io): Promise<number> {
  return runXbus([command.name, ...args], io);
}
