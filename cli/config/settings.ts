import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { whyUnreadable } from "../user-file.js";

export type { Identity, TlsFile } from "../../core/tls/index.js";
export { checkOwnTls, keepsIdentity } from "../../core/tls/index.js";

/**
 * Settings of a process command (`xbus connector`, `xbus broker`): a JSON
 * file, each setting also a flag that wins over it, checked by the command's
 * zod schema. A problem is named by its setting and where it came from
 * (`connector.json: tls.key` or `--key`), and messages name files, never
 * their contents: no key or certificate text reaches a terminal or a log.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Every setting of a command: dotted path in the JSON (one level of sections) → its flag, if it has one. */
export type SettingsSpec = Readonly<Record<string, string | undefined>>;

export type Flags = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The dotted paths of a settings schema's leaves, one level of sections deep:
 * what a SettingsSpec must name, no more and no less (`satisfies` checks it).
 */
export type SettingPaths<Shape> = {
  [K in keyof Shape & string]: Shape[K] extends
    | z.ZodObject<infer Section>
    | z.ZodPipe<z.ZodObject<infer Section>, z.ZodType>
    ? `${K}.${keyof Section & string}`
    : K;
}[keyof Shape & string];

/**
 * What the checks that read files need of where the settings came from. Both
 * throw a ConfigError naming the setting's origin: while loading it becomes
 * the setting's issue, after (a renewal's check) it reaches the caller as it is.
 */
export interface SettingsPlace<Setting extends string = string> {
  /** A path setting's value, absolute: a flag's from the shell's folder, a file's from the file's. */
  path(setting: Setting, value: string): string;
  fail(setting: Setting, why: string): never;
}

/** A ConfigError that knows its setting and reason apart, so a check can hand them to zod. */
class SettingProblem extends ConfigError {
  constructor(
    readonly setting: string,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads a command's settings: the file (if any), each flag given laid over
 * its setting, then `schema`, then `check`, the checks that read what the
 * settings name (files, folders) and make the command's config of them. Throws
 * ConfigError naming the first problem.
 */
export function loadSettings<S extends SettingsSpec, T extends z.ZodType, C>(o: {
  spec: S;
  configPath: string | undefined;
  flags: Flags;
  schema: T;
  check: (settings: z.output<T>, place: SettingsPlace<keyof S & string>) => C;
}): C {
  const { spec, configPath, flags } = o;
  const input: Record<string, unknown> = configPath === undefined ? {} : readConfigFile(configPath);
  const baseDir = configPath === undefined ? process.cwd() : dirname(resolve(configPath));
  const fromFlag = new Set<string>();
  for (const [setting, flag] of Object.entries(spec)) {
    const [section, key] = setting.split(".") as [string, string | undefined];
    // A section the file leaves out is there, empty, so its settings are named one by one.
    if (key !== undefined && input[section] === undefined) input[section] = {};
    const value = flag === undefined ? undefined : flags[flag];
    if (value === undefined) continue;
    fromFlag.add(setting);
    if (key === undefined) input[section] = value;
    else if (isObject(input[section])) input[section] = { ...input[section], [key]: value };
  }

  /** Where a setting came from: the flag when given, else the file's key. */
  const origin = (setting: string): string =>
    fromFlag.has(setting) || configPath === undefined
      ? `--${spec[setting] ?? setting}`
      : `${configPath}: ${setting}`;
  const place: SettingsPlace = {
    path: (setting, value) => resolve(fromFlag.has(setting) ? process.cwd() : baseDir, value),
    fail: (setting, why) => {
      throw new SettingProblem(setting, why, `${origin(setting)}: ${why}`);
    },
  };
  // The checks stop at their first problem (place.fail); it becomes the issue of its setting.
  const checked = o.schema.transform((settings, ctx) => {
    try {
      return o.check(settings, place);
    } catch (err) {
      if (!(err instanceof SettingProblem)) throw err;
      ctx.addIssue({ code: "custom", path: err.setting.split("."), message: err.reason });
      return z.NEVER;
    }
  });
  const parsed = checked.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ConfigError(settingsProblem(parsed.error, { origin, configPath, known: Object.keys(spec) }));
}

/**
 * The one line of a refused set of settings: `ORIGIN: REASON` for its first
 * issue, ORIGIN being the flag or `FILE: setting` (a JSON parser gives no
 * line). An unknown setting goes first, naming the known ones: a typo means a
 * setting meant is missing, and "is required" would mislead.
 */
function settingsProblem(
  error: z.ZodError,
  o: { origin: (setting: string) => string; configPath: string | undefined; known: readonly string[] },
): string {
  const unknown = error.issues.find((i) => i.code === "unrecognized_keys");
  if (unknown) {
    const name = [...unknown.path, unknown.keys[0]].join(".");
    return `${o.configPath}: unknown setting ${JSON.stringify(name.slice(0, 100))} (known: ${o.known.join(", ")})`;
  }
  const [issue] = error.issues;
  // A list item's problem is its list's: `nats`, not `nats.1`.
  const setting = (issue?.path ?? []).filter((p) => typeof p === "string").join(".");
  return `${o.origin(setting)}: ${issue?.message ?? "refused"}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The file as an object; which settings it may hold is the schema's to say. */
function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the config file (${whyUnreadable(err)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not JSON (${(err as Error).message})`);
  }
  if (!isObject(parsed)) throw new ConfigError(`${path}: must be a JSON object of settings`);
  return parsed;
}
