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
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Name and message only: stacks and causes can carry request text.
      serializers: { err: errorFields },
      redact: { paths: REDACT, censor: "[redacted]" },
    },
    { write },
  );
  return wrap(p);
}

function wrap(p: PinoLogger): Logger {
  return {
    debug: (f, m) => p.debug(f, m),
    info: (f, m) => p.info(f, m),
    warn: (f, m) => p.warn(f, m),
    error: (f, m) => p.error(f, m),
    child: (f) => wrap(p.child(f)),
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
