import { Command, type CommanderError, Help } from "commander";
import { type Io, processIo, type Run, UsageError, type XbusCommand } from "./command.js";

/** A command-line mistake commander found, with the command whose line it was. */
class CommandLineError extends Error {
  constructor(
    readonly command: Command,
    readonly problem: CommanderError,
  ) {
    super(problem.message);
  }
}

/**
 * `xbus` with every subcommand, for one run. Help is generated from the option specs, usage line first
 * (`xbus log verify [options]`). Commander prints nothing and exits nothing itself: its errors come
 * back as CommandLineError, which runXbus words and turns into exit codes.
 */
export function xbusProgram(run: Run, commands: readonly XbusCommand[]): Command {
  const program = new Command("xbus")
    .description("xbus — secure data exchange bus")
    .usage("<command> [options]");
  for (const c of commands) program.addCommand(c.create(run));
  program.addHelpText(
    "after",
    "\nRun `xbus <command> --help` for a command's options. Exit codes: 0 done, 1 failed, 2 wrong command line.",
  );
  configure(program, run.io);
  return program;
}

function configure(cmd: Command, io: Io): void {
  // A command's own help opens with what it does; the one line its parent lists says it.
  if (!cmd.description()) cmd.description(cmd.summary());
  cmd
    .exitOverride((err) => {
      throw new CommandLineError(cmd, err);
    })
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} })
    .configureHelp({
      // Without the "Usage: " title the help starts with the command it is about, as `xbus log verify`.
      formatHelp: (c, helper) => Help.prototype.formatHelp.call(helper, c, helper).replace(/^Usage: /, ""),
    });
  for (const sub of cmd.commands) configure(sub, io);
}

/** `xbus log verify`: the names from the root down. */
function pathOf(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** `xbus log` for `xbus log verify`: the command every line of a run starts with. */
function topOf(cmd: Command | undefined): string {
  let c = cmd;
  while (c?.parent?.parent) c = c.parent;
  return c?.parent ? `xbus ${c.name()}` : "xbus";
}

/** Commander's message as one line of ours: no "error: " prefix, a suggestion on the same line. */
function wording(err: CommanderError, cmd: Command): string {
  if (err.code === "commander.unknownCommand") {
    const known = cmd.commands.map((c) => c.name()).filter((n) => n !== "help");
    return `unknown ${cmd.parent ? "subcommand" : "command"} ${JSON.stringify(cmd.args[0])} (known: ${known.join(", ")})`;
  }
  // An argParser's own message already names the flag and the value.
  const own = /is invalid(?: for argument '[^']*')?\. (.+)$/s.exec(err.message)?.[1];
  const text = (own ?? err.message.replace(/^error: /, ""))
    .replace(/\s*\n\s*/g, " ")
    .replace("(Did you mean", "(did you mean");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Runs `xbus ARGV` with `commands`, by README's exit codes: 0 done, 1 failed, 2 the command line was
 * wrong. A usage error is one line naming the mistake, then a pointer to the command's help; a failure
 * is one line with the command's name and the message, no stack. `--help` anywhere shows the help and
 * runs nothing.
 */
export async function runProgram(
  commands: readonly XbusCommand[],
  argv: readonly string[],
  io: Io = processIo,
): Promise<number> {
  const run: Run = { io, code: 0 };
  const program = xbusProgram(run, commands);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return run.code;
  } catch (err) {
    if (err instanceof CommandLineError) {
      const { problem, command } = err;
      // --help, or `help`: shown on stdout. A command run without its subcommand: help on stderr, exit 2.
      if (problem.code === "commander.helpDisplayed" || problem.code === "commander.help")
        return problem.exitCode === 0 ? 0 : 2;
      // Asked for help, the reader gets it even beside a flag commander refused before it saw --help.
      if (asksForHelp(argv)) {
        command.outputHelp();
        return 0;
      }
      usage(io, command, wording(problem, command));
      return 2;
    }
    if (err instanceof UsageError) {
      usage(io, run.command ?? program, err.message);
      return 2;
    }
    io.err(`${topOf(run.command)}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** `--help` or `-h` among the options (not after `--`, where it would be an argument). */
function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

function usage(io: Io, command: Command, message: string): void {
  const what = command.commands.length > 0 ? "commands" : "options";
  io.err(`${topOf(command)}: ${message}\nRun \`${pathOf(command)} --help\` for the ${what}.\n`);
}
