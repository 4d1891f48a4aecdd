import type { MessagePort } from "node:worker_threads";
import { errorFields, type Level, type Logger } from "../../core/index.js";

/** A log line as a worker thread sends it to the main thread. */
export interface PortLogLine {
  type: "log";
  level: Level;
  fields: Record<string, unknown>;
  msg: string;
}

/**
 * The project's logger, across the thread boundary: each line goes to the main
 * thread, which writes it through the stack's logger (its level, its output,
 * its component). Errors are reduced to what a log line keeps of them first,
 * since their own fields do not survive the copy.
 */
export function portLogger(p: MessagePort, base: Record<string, unknown>): Logger {
  const send =
    (level: Level) =>
    (fields: Record<string, unknown>, msg: string): void => {
      const plain: Record<string, unknown> = { ...base };
      for (const [k, v] of Object.entries(fields)) plain[k] = v instanceof Error ? errorFields(v) : v;
      try {
        p.postMessage({ type: "log", level, fields: plain, msg } satisfies PortLogLine);
      } catch {
        // A field that cannot be copied: the line without its fields, rather than no line.
        p.postMessage({ type: "log", level, fields: base, msg } satisfies PortLogLine);
      }
    };
  return {
    debug: send("debug"),
    info: send("info"),
    warn: send("warn"),
    error: send("error"),
    child: (fields) => portLogger(p, { ...base, ...fields }),
  };
}
