/**
 * Structured JSON-lines logging to stderr. Callers pass identifiers (exchange
 * id, service, consumer) but never a citizen ID or record data.
 */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(
  base: Record<string, unknown>,
  level: Level = (process.env.XBUS_LOG_LEVEL as Level | undefined) ?? "info",
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const min = ORDER[level] ?? ORDER.info;
  const emit = (lvl: Level, fields: Record<string, unknown>, msg: string) => {
    if (ORDER[lvl] < min) return;
    const err =
      fields.err instanceof Error ? { err: { name: fields.err.name, message: fields.err.message } } : {};
    write(
      `${JSON.stringify({ time: new Date().toISOString(), level: lvl, ...base, ...fields, ...err, msg })}\n`,
    );
  };
  return {
    debug: (f, m) => emit("debug", f, m),
    info: (f, m) => emit("info", f, m),
    warn: (f, m) => emit("warn", f, m),
    error: (f, m) => emit("error", f, m),
    child: (f) => createLogger({ ...base, ...f }, level, write),
  };
}

/** A logger that drops everything, for tests that assert on behaviour, not output. */
export const silentLogger: Logger = createLogger({}, "error", () => {});
