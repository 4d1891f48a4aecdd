/**
 * The kernel every module shares: errors and reasons, the logger, ids, hashing, the pid lock. The rooms beside it (contract, rpc, minimise, signing, log-format, nats, tls, telemetry) each have a front door of their own.
 */

export type { XbusErrorOptions } from "./errors.js";
export { ErrorMetadata, isReason, Reason, XbusError } from "./errors.js";
export { sha256, sha256Hex } from "./hash.js";
export { UUID_PATTERN, uuidv7 } from "./ids.js";
export type { Level, Logger } from "./logger.js";
export { createLogger, errorFields, silentLogger } from "./logger.js";
export type { PidLock } from "./pid-lock.js";
export { takePidLock } from "./pid-lock.js";
