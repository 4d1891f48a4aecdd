import { type Logger as PinoLogger, pino } from "pino";

/**
 * Structured JSON-lines logging (pino) to stderr. Callers pass identifiers
 * (exchange id, trace id, service, consumer) but never a citizen ID or record
 * data; a field that is one by name is redacted anyway, as a second line.
 */
export type Level = "debug" | "info" | "warn" | "error";
const LEVELS: ReadonlySet<string> = new Set(["debug", "info", "warn", "error"]);

export interface Logger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
  child(fields: Record<string, unknown>): Logger;
}

// Names under which a citizen ID or a secret could arrive by mistake.
const REDACT = [
  "subject_id",
  "subjectId",
  "token",
  "authorization",
  "secret",
  "*.subject_id",
  "*.subjectId",
  "*.token",
  "*.authorization",
  "*.secret",
];

export function createLogger(
  base: Record<string, unknown>,
  level: Level = envLevel(),
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const p = pino(
    {
      level: LEVELS.has(level) ? level : "info",
      // The bindings, base included, are kept by `wrap` so that each key appears once per line.
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Name and message only: stacks and causes can carry request text.
      serializers: { err: errorFields },
      redact: { paths: REDACT, censor: "[redacted]" },
    },
    { write },
  );
  return wrap(p, base);
}

/**
 * pino writes a child's bindings after its parent's and a call's fields after
 * both, so a key given twice appeared twice in one JSON line (`"component":
 * "broker","component":"tls"`), which log tools read differently. Here each
 * child is made from the root with its merged bindings (the innermost value
 * wins), and a call's field that repeats a binding is dropped when it says the
 * same, or written through a one-off child when it says otherwise.
 */
function wrap(root: PinoLogger, bindings: Record<string, unknown>): Logger {
  const p = Object.keys(bindings).length > 0 ? root.child(bindings) : root;
  const write =
    (level: Level) =>
    (fields: Record<string, unknown>, msg: string): void => {
      let own: Record<string, unknown> | undefined;
      let overrides: Record<string, unknown> | undefined;
      for (const k in fields) {
        if (!(k in bindings)) continue;
        own ??= { ...fields };
        delete own[k];
        if (!Object.is(bindings[k], fields[k])) {
          overrides ??= {};
          overrides[k] = fields[k];
        }
      }
      if (!own) p[level](fields, msg);
      else if (!overrides) p[level](own, msg);
      else root.child({ ...bindings, ...overrides })[level](own, msg);
    };
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    child: (f) => wrap(root, { ...bindings, ...f }),
  };
}

/** What a log line keeps of an error (also for errors logged from a worker thread, before they cross). */
export function errorFields(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const reason = (err as { reason?: unknown }).reason;
  return { name: err.name, message: err.message, ...(typeof reason === "string" ? { reason } : {}) };
}

function envLevel(): Level {
  const l = process.env.XBUS_LOG_LEVEL;
  return l && LEVELS.has(l) ? (l as Level) : "info";
}

/** A logger that drops everything, for tests that assert on behaviour, not output. */
export const silentLogger: Logger = createLogger({}, "error", () => {});
