/** One `xbus` subcommand. Each lives in its own file and is listed in commands/index.ts. */
export interface Command {
  readonly name: string;
  /** One line for `xbus --help`. */
  readonly summary: string;
  /** Runs with the arguments after the command's name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}
