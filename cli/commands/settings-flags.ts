import { type Command, Option } from "commander";
import { ConfigError, type Flags, type SettingsSpec } from "../config/settings.js";
import { act, type Run, repeatableOption } from "./command.js";

/** How one setting's flag shows in the help: its value's name and what it is. */
export interface FlagHelp {
  readonly value: string;
  readonly description: string;
  /** Given more than once, every value counts (`--nats` of several servers). */
  readonly repeatable?: true;
}

/** One FlagHelp per flag the settings table names, no more: a setting added there needs its help here. */
export type FlagsHelp<S extends SettingsSpec> = { readonly [F in Exclude<S[keyof S], undefined>]: FlagHelp };

/**
 * A process command's command line (`xbus broker`, `xbus connector`): `--config FILE` and one flag per
 * setting that has one, each described with the JSON setting it overrides; the settings that are in the
 * file only are named after them. The action gets the settings `load` read from both, or, when `load`
 * throws a ConfigError, the command prints its one line and exits 1.
 */
export function settingsCommand<S extends SettingsSpec, C>(
  run: Run,
  cmd: Command,
  o: {
    spec: S;
    help: FlagsHelp<S>;
    /** The README section the file is described in. */
    readme: string;
    load: (configPath: string | undefined, flags: Flags) => C;
    serve: (settings: C) => Promise<number>;
  },
): Command {
  cmd.option("--config <file>", `JSON settings (README "${o.readme}"); paths in it are relative to the file`);
  const settingOf = new Map(Object.entries(o.spec).map(([setting, flag]) => [flag, setting]));
  const help = o.help as Readonly<Record<string, FlagHelp>>;
  for (const [flag, h] of Object.entries(help)) {
    const description = `${h.description} (${settingOf.get(flag)})`;
    cmd.addOption(
      h.repeatable
        ? repeatableOption(`--${flag} <${h.value}>`, description)
        : new Option(`--${flag} <${h.value}>`, description),
    );
  }
  const fileOnly = Object.keys(o.spec).filter((s) => o.spec[s] === undefined);
  if (fileOnly.length > 0) cmd.addHelpText("after", `\nIn the file only: ${fileOnly.join(", ")}.`);
  const command = `xbus ${cmd.name()}`;
  return act<{ config?: string }>(run, cmd, (opts) => {
    const flags: Record<string, string | string[] | undefined> = {};
    for (const flag of Object.keys(help)) {
      const option = cmd.options.find((x) => x.long === `--${flag}`);
      if (option) flags[flag] = cmd.getOptionValue(option.attributeName()) as string | string[] | undefined;
    }
    let settings: C;
    try {
      settings = o.load(opts.config, flags);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      run.io.err(`${command}: ${err.message}\n`);
      return 1;
    }
    return o.serve(settings);
  });
}
