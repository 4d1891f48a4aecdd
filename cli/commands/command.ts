import { type Command, InvalidArgumentError, Option } from "commander";
import type { PromptInput } from "../password-prompt.js";

/** Where a command's output goes: the process's stdout and stderr, or a test's buffers. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Where a password is asked for (`certs issue --p12` without a password file); none: nowhere. */
  terminal?: PromptInput;
}

/** Looked up at each write, so a test that spies on process.stdout sees it. */
export const processIo: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  // A getter: process.stdin is made on first use, and only a password prompt needs it.
  get terminal() {
    return process.stdin;
  },
};

/**
 * A command line that commander accepted but the command cannot use: a bad value, options that exclude
 * each other, a required one missing. Exit 2, one line naming it and the pointer to the command's help.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** One run of `xbus`: where output goes, which command ran and the exit code its action resolved to. */
export interface Run {
  readonly io: Io;
  command?: Command;
  code: number;
}

/**
 * One `xbus` subcommand, listed in commands/index.ts. `create` makes a fresh commander command for each
 * run: commander keeps the parsed values on the command object, and a test runs many command lines in
 * one process.
 */
export interface XbusCommand {
  readonly name: string;
  create(run: Run): Command;
}

/** The options requiredOption made, which act checks are given. */
const REQUIRED = new WeakSet<Option>();

/**
 * Sets `cmd`'s action: `fn` gets the parsed options (typed by the caller, who declared them on `cmd`)
 * and the positional arguments, and resolves to the exit code.
 */
export function act<O>(
  run: Run,
  cmd: Command,
  fn: (options: O, args: string[]) => Promise<number> | number,
): Command {
  return cmd.action(async () => {
    run.command = cmd;
    for (const option of cmd.options)
      if (REQUIRED.has(option) && cmd.getOptionValue(option.attributeName()) === undefined)
        throw new UsageError(
          `${option.flags.replace(/<(.+)>/, (_, v: string) => v.toUpperCase())} is required`,
        );
    run.code = await fn(cmd.opts() as O, cmd.processedArgs as string[]);
  });
}

/**
 * A flag the command cannot run without. Not commander's mandatory option: commander reports a missing
 * one before an unknown flag, and `--targt x` should be named as the unknown flag it is.
 */
export function requiredOption(flags: string, description: string): Option {
  const option = new Option(flags, `${description} (required)`);
  REQUIRED.add(option);
  return option;
}

/** A flag of a closed set of values: the help lists them, another value is a usage error naming them. */
export function choiceOption(flags: string, description: string, values: readonly string[]): Option {
  const option = new Option(flags, description).choices(values);
  const name = option.long ?? flags;
  return option.argParser((v: string) => {
    if (!values.includes(v))
      throw new InvalidArgumentError(
        `${name} must be one of ${values.join(", ")} (got ${JSON.stringify(v)})`,
      );
    return v;
  });
}

/** A flag that may be given more than once; its value is every one given, in order. */
export function repeatableOption(flags: string, description: string): Option {
  return new Option(flags, `${description}; repeatable`).argParser(
    (v: string, previous: string[] | undefined) => [...(previous ?? []), v],
  );
}
