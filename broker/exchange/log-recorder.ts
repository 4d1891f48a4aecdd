import type { Logger } from "../../core/logger.js";
import type { ExchangeOutcome, ExchangeRecorder } from "./outcome.js";

/**
 * Writes each outcome as one structured log line, without the subject ID.
 * This is the operator's trail, not the tamper-evident exchange log: that one
 * (JetStream + Merkle tree) wraps or replaces this recorder.
 */
export function createLogRecorder(logger: Logger): ExchangeRecorder {
  return {
    async record(o: ExchangeOutcome) {
      const { subjectId: _omitted, ...rest } = o;
      logger.info({ exchange: { ...rest, latencyMs: Math.round(o.latencyMs * 100) / 100 } }, "exchange");
      return undefined;
    },
  };
}
