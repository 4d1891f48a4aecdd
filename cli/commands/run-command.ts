import type { Command } from "./command.js";

/**
 * Runs a command with the CLI's exit-code convention: 0 done, 1 failed, 2 the command line was
 * wrong. A flag that parseArgs refuses (unknown, or missing its value) is a usage error wherever the
 * command parses it: one line naming it, a pointer to the command's help, exit 2. Anything else the
 * command throws is a failure: one line with the command's name and the message, no stack, exit 1.
 */
export async function runCommand(command: Command, args: string[]): Promise<number> {
  try {
    return await command.run(args);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown } | null)?.code;
    if (!(typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))) {
      process.stderr.write(`xbus ${command.name}: ${message}\n`);
      return 1;
    }
    process.stderr.write(
      `xbus ${command.name}: ${message}\nRun \`xbus ${command.name} --help\` for the options.\n`,
    );
    return 2;
  }
}
