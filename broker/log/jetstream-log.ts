import type { KeyObject } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../core/index.js";
import { uuidv7, XbusError } from "../../core/index.js";
import { leafHash, receiptSignedBytes } from "../../core/log-format/index.js";
import { createRequestMux, natsHeaders, watchConnectivity } from "../../core/nats/index.js";
import { batchedToFields, signBatched } from "../../core/signing/index.js";
import type { LogMetrics } from "../../core/telemetry/index.js";
import { type Receipt, ReceiptSchema } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { Decision, type ExchangeRecord, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import type { ExchangeOutcome, ExchangeRecorder, RecordOptions } from "../exchange/outcome.js";
import { createFolder, type FoldOptions, type FoldSummary } from "./fold.js";
import { boundRecord } from "./record-bounds.js";
import { createRetryQueue, isPermanentAppendError } from "./retry-queue.js";
import { checkStream, type StreamSpec } from "./stream-settings.js";
import { subjectRef } from "./subject-ref.js";

export const LOG_STREAM = "XBUS_LOG";
export const LOG_SUBJECT = "xbus.log.exchanges";

export interface ExchangeLogOptions {
  nats: NatsConnection;
  /** Names this log in receipts and tree heads, e.g. `gov.bt/xbus-log`. */
  logId: string;
  brokerId: string;
  /** HMAC key for subject references; 32 random bytes, kept secret. */
  logSecret: Uint8Array;
  /** Ed25519 key that signs receipts (the broker's). */
  signingKey: KeyObject;
  /** 1 on one machine, 3 in a cluster. */
  replicas?: number;
  /** How long to wait for JetStream's ack before answering LOG_UNAVAILABLE. Default 5 s. */
  ackTimeoutMs?: number;
  /**
   * Largest record appended, in bytes; default 256 KiB, and never more than the
   * server's max_payload less 4 KiB for the headers. Records are bounded field by
   * field (record-bounds.ts) to a few KB, so only a misconfigured server meets it.
   */
  maxRecordBytes?: number;
  /**
   * Bound of the retry queue, in bytes of records of failed exchanges waiting
   * for the log; default 64 MiB. Past it the broker starts no new exchange
   * (LOG_UNAVAILABLE) until the queue drains.
   */
  retryQueueBytes?: number;
  /**
   * The stream's max_bytes (set when the broker creates the stream, updated
   * when it differs); default 1 GiB. JetStream refuses a stream bigger than its
   * store (`max_file_store`), so give it what the store can hold.
   */
  maxStreamBytes?: number;
  /** From this share of max_bytes on, warn (log line, metric). Default 0.8. */
  streamAlertRatio?: number;
  /** How often the stream's size is read. Default 10 s. */
  streamCheckMs?: number;
  /** Folding of refused attempts (fold.ts); `false` logs every attempt one by one. */
  fold?: FoldOptions | false;
  /** Dead letters, folded attempts, retry queue bytes, stream use. */
  metrics?: LogMetrics;
  logger: Logger;
}

/** The exchange log as the broker uses it, with what tests and operators look at. */
export interface ExchangeLog extends ExchangeRecorder {
  /** Reads the stream's size now, warns past the alert ratio, and gives it. */
  checkStream(): Promise<StreamUse>;
  /** Appends the summaries of fold windows that ended (all of them with `all`). */
  flushFolds(all?: boolean): Promise<void>;
  /** Stops the timers (the stream stays). */
  close(): void;
}

export interface StreamUse {
  bytes: number;
  maxBytes: number;
}

export const DEFAULT_MAX_STREAM_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024;
export const DEFAULT_RETRY_QUEUE_BYTES = 64 * 1024 * 1024;
const HEADER_ROOM = 4096;

const DECISION: Record<ExchangeOutcome["decision"], Decision> = {
  allow: Decision.ALLOW,
  deny: Decision.DENY,
  invalid: Decision.INVALID,
  error: Decision.ERROR,
};

/**
 * XBUS_LOG's settings: file storage, nothing ever deleted or purged through the API, appends refused
 * (rather than old records dropped) when `maxBytes` is reached, and retries of one exchange id within
 * two minutes stored once.
 */
export function logStreamSpec(replicas = 1, maxBytes?: number): StreamSpec {
  return {
    name: LOG_STREAM,
    subjects: [LOG_SUBJECT],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.New,
    num_replicas: replicas,
    deny_delete: true,
    deny_purge: true,
    allow_rollup_hdrs: false,
    duplicate_window: 120_000_000_000,
    // Bounded (a flood must fill this, not the disk JetStream shares with the consent bucket): the bound is
    // given when the stream is made (DEFAULT_MAX_STREAM_BYTES unless said), and checked only when asked.
    ...(maxBytes === undefined ? {} : { max_bytes: maxBytes }),
  };
}

/**
 * Checks the log stream against its spec (throwing, naming each difference); creates it when it is
 * missing and this connection may (a dev or test nats-server), bounded by `maxBytes` (default
 * DEFAULT_MAX_STREAM_BYTES). An existing stream keeps the bound it has unless `maxBytes` is given and
 * differs: then it is updated, where this identity may (dev, tests), and otherwise the error says to run
 * `xbus federation init --log-max-bytes`. In a federation the admin creates the stream and a broker's
 * identity may neither create nor update it.
 */
export async function ensureLogStream(nc: NatsConnection, replicas = 1, maxBytes?: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const spec = logStreamSpec(replicas);
  if ((await checkStream(jsm, spec)) === "ok") {
    if (maxBytes === undefined) return;
    const info = await jsm.streams.info(LOG_STREAM);
    if (info.config.max_bytes === maxBytes) return;
    try {
      await jsm.streams.update(LOG_STREAM, { ...info.config, max_bytes: maxBytes });
    } catch (err) {
      throw new Error(
        `stream ${LOG_STREAM} has max_bytes ${info.config.max_bytes}, not ${maxBytes}, and this NATS identity ` +
          `could not change it (${err instanceof Error ? err.message : String(err)}): run \`xbus federation init --log-max-bytes\` with the admin identity`,
        { cause: err },
      );
    }
    return;
  }
  try {
    await jsm.streams.add(logStreamSpec(replicas, maxBytes ?? DEFAULT_MAX_STREAM_BYTES));
  } catch (err) {
    throw new Error(
      `stream ${LOG_STREAM} does not exist and this NATS identity could not create it ` +
        `(${err instanceof Error ? err.message : String(err)}): run \`xbus federation init\` with the admin identity`,
      { cause: err },
    );
  }
}

/** The ExchangeRecord for an outcome, within its size bounds: what the log stores, byte for byte. */
export function toRecord(o: ExchangeOutcome, brokerId: string, logSecret: Uint8Array): ExchangeRecord {
  return boundRecord(unboundedRecord(o, brokerId, logSecret));
}

function unboundedRecord(o: ExchangeOutcome, brokerId: string, logSecret: Uint8Array): ExchangeRecord {
  return create(ExchangeRecordSchema, {
    exchangeId: o.exchangeId,
    time: BigInt(o.startedAt),
    consumer: o.consumer ?? "",
    certSerial: o.certSerial ?? "",
    service: o.service,
    subjectRef: o.subjectId ? subjectRef(logSecret, o.subjectId) : "",
    purpose: o.purpose,
    consentId: o.consentId,
    decision: DECISION[o.decision],
    matchedGrants: [...o.matchedGrants],
    policyBundleHash: o.bundleHash,
    fieldsRequested: [...o.fieldsRequested],
    fieldsReleased: [...o.fieldsReleased],
    fieldsWithheld: [...o.fieldsWithheld],
    status: o.status,
    reason: o.reasonText,
    requestHash: o.requestHash,
    responseHash: o.responseHash,
    latencyUs: Math.min(0xffffffff, Math.round(o.latencyMs * 1000)),
    traceId: o.traceId,
    brokerId,
    requestId: o.requestId,
    providerSignature: o.providerSignature,
    discloseAfter: BigInt(o.discloseAfter ?? 0),
    legalOrderRef: o.legalOrderRef ?? "",
  });
}

/**
 * DESIGN step 8: the durable exchange log. Each outcome becomes one
 * ExchangeRecord appended to the JetStream stream; `record` resolves only
 * once JetStream has acknowledged it durably, with a receipt the broker signs.
 * Appends are independent promises, so many are in flight at once and
 * waiting does not serialise the broker. Refused attempts past a per-identity
 * budget are folded (fold.ts) and resolve with no receipt.
 */
export async function openExchangeLog(o: ExchangeLogOptions): Promise<ExchangeLog> {
  await ensureLogStream(o.nats, o.replicas, o.maxStreamBytes);
  const ackTimeout = o.ackTimeoutMs ?? 5000;
  const mux = createRequestMux(o.nats);
  // js.publish's request, on the broker's own inbox mux (core/nats/request.ts): the same headers and ack.
  const append = async (bytes: Uint8Array, msgID: string, timeout: number): Promise<{ seq: number }> => {
    const h = natsHeaders({ "Nats-Msg-Id": msgID, "Nats-Expected-Stream": LOG_STREAM });
    const reply = await mux.request(LOG_SUBJECT, bytes, { timeoutMs: timeout, headers: h });
    return parsePubAck(reply.data);
  };
  // While NATS is down an append would wait for its full timeout; fail at once instead (and queue failures).
  const link = watchConnectivity(o.nats);
  const retry = createRetryQueue({
    append,
    isUp: () => link.up,
    timeoutMs: ackTimeout,
    maxBytes: o.retryQueueBytes ?? DEFAULT_RETRY_QUEUE_BYTES,
    logger: o.logger,
    ...(o.metrics ? { onDeadLetter: o.metrics.deadLetter } : {}),
  });
  o.metrics?.watchRetryQueue(() => retry.bytes);
  const maxRecord = () =>
    Math.min(
      o.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
      (o.nats.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM,
    );
  const stream = watchStreamUse(o, o.maxStreamBytes ?? DEFAULT_MAX_STREAM_BYTES);

  /** Appends `record`; on failure queues it (retryLater) or dead-letters it, and throws LOG_UNAVAILABLE. */
  const appendRecord = async (
    record: ExchangeRecord,
    opts: RecordOptions,
  ): Promise<{ bytes: Uint8Array; seq: number }> => {
    const bytes = toBinary(ExchangeRecordSchema, record);
    const id = record.exchangeId;
    const left = opts.deadlineMs === undefined ? ackTimeout : opts.deadlineMs - Date.now();
    try {
      if (bytes.length > maxRecord()) {
        throw new Error(
          `the record is ${bytes.length} bytes, over the ${maxRecord()} the log takes (max_payload)`,
        );
      }
      if (!link.up) throw new Error("no connection to NATS");
      // Leave the broker a moment before the consumer's deadline to send its answer.
      const { seq } = await append(bytes, id, Math.max(50, Math.min(ackTimeout, left - 100)));
      return { bytes, seq };
    } catch (err) {
      const permanent = bytes.length > maxRecord() ? "too_large" : isPermanentAppendError(err);
      if (permanent) retry.deadLetter(id, bytes.length, permanent, err);
      else if (opts.retryLater) retry.add(bytes, id);
      const full = isStoreFull(err);
      o.logger.error(
        { exchange_id: id, err, retrying: opts.retryLater === true && !permanent },
        full
          ? "exchange log append failed: the log stream is full (max_bytes or JetStream's store); every exchange fails until it has room"
          : "exchange log append failed",
      );
      if (full) void stream.check().catch(() => undefined);
      throw new XbusError(
        "LOG_UNAVAILABLE",
        full
          ? "the exchange log is full and cannot record this exchange; no data was released"
          : "the exchange log cannot record this exchange; no data was released",
        { cause: err },
      );
    }
  };

  const folder = o.fold === false ? undefined : createFolder(o.fold);
  const flushFolds = async (all = false) => {
    for (const f of folder?.due(all ? Number.POSITIVE_INFINITY : Date.now()) ?? []) {
      await appendRecord(foldedRecord(f, o.brokerId, o.logSecret), { retryLater: true }).catch(
        () => undefined, // queued or dead-lettered, and logged
      );
    }
  };
  const foldTimer = folder
    ? setInterval(() => void flushFolds(), Math.max(250, Math.floor(folder.windowMs / 4)))
    : undefined;
  foldTimer?.unref();

  return {
    admit() {
      // Fail closed: while failed exchanges' records wait with no room for more, no new exchange starts, so
      // none can end without its record. (An allowed exchange never needed the queue: it waits for its own append.)
      if (retry.wouldOverflow(maxRecord())) {
        throw new XbusError(
          "LOG_UNAVAILABLE",
          "the exchange log is behind: records of failed exchanges are still waiting for it, so no new exchange starts",
        );
      }
    },
    async record(outcome, opts = {}): Promise<Receipt | undefined> {
      if (folder?.fold(outcome, Date.now())) {
        o.metrics?.folded(1);
        return undefined;
      }
      const record = toRecord(outcome, o.brokerId, o.logSecret);
      const { bytes, seq } = await appendRecord(record, opts);
      // xbus-receipt/v2: the receipt names its exchange and the hashes of the request and the released record,
      // as the logged record holds them.
      const receipt = {
        logId: o.logId,
        leafIndex: BigInt(seq - 1),
        leafHash: leafHash(bytes).toString("hex"),
        timestamp: BigInt(Date.now()),
        brokerId: o.brokerId,
        exchangeId: record.exchangeId,
        requestHash: record.requestHash,
        responseHash: record.responseHash,
      };
      return create(ReceiptSchema, {
        ...receipt,
        leafHash: Buffer.from(receipt.leafHash, "hex"),
        requestHash: Buffer.from(receipt.requestHash, "hex"),
        responseHash: Buffer.from(receipt.responseHash, "hex"),
        // Under load one signature covers a batch of receipts (core/signing/batch-signature.ts).
        ...batchedToFields(await signBatched(receiptSignedBytes(receipt), o.signingKey)),
      });
    },
    checkStream: () => stream.check(),
    flushFolds,
    close() {
      clearInterval(foldTimer);
      stream.close();
    },
  };
}

/** The one record that stands for a window's folded attempts. */
function foldedRecord(f: FoldSummary, brokerId: string, logSecret: Uint8Array): ExchangeRecord {
  const r = toRecord(
    {
      ...f.first,
      exchangeId: uuidv7(),
      startedAt: f.windowStart,
      service: f.service,
      purpose: f.purpose,
      subjectId: "",
      consentId: "",
      requestId: "",
      fieldsRequested: [],
      requestHash: "",
      traceId: "",
      latencyMs: 0,
      reasonText: `${f.count} further attempts with this consumer, decision and status were folded into this record`,
    },
    brokerId,
    logSecret,
  );
  r.foldedCount = f.count;
  r.foldedWindowMs = f.windowMs;
  return r;
}

/** JetStream's refusals when the stream or its store has no room (nats-server 2.9 wording). */
function isStoreFull(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /maximum bytes exceeded|insufficient (storage )?resources|storage.*(full|exceeded)/i.test(msg);
}

const WARN_EVERY_MS = 600_000;

/** Reads the stream's size every streamCheckMs; warns (log line) from the alert ratio on, at most every 10 min. */
function watchStreamUse(o: ExchangeLogOptions, maxBytes: number) {
  const ratio = o.streamAlertRatio ?? 0.8;
  let last: StreamUse | undefined;
  let warnedAt = 0;
  o.metrics?.watchStream(() => last);
  const check = async (): Promise<StreamUse> => {
    const jsm = await jetstreamManager(o.nats);
    const info = await jsm.streams.info(LOG_STREAM);
    const use = {
      bytes: info.state.bytes,
      maxBytes: info.config.max_bytes > 0 ? info.config.max_bytes : maxBytes,
    };
    last = use;
    const now = Date.now();
    if (use.bytes >= ratio * use.maxBytes && now - warnedAt >= WARN_EVERY_MS) {
      warnedAt = now;
      o.logger.warn(
        { stream: LOG_STREAM, bytes: use.bytes, max_bytes: use.maxBytes, ratio: use.bytes / use.maxBytes },
        `the exchange log stream is over ${Math.round(ratio * 100)}% of its max_bytes: raise log.max_bytes or add storage; when it is full every exchange fails with LOG_UNAVAILABLE`,
      );
    } else if (use.bytes < ratio * use.maxBytes) warnedAt = 0;
    return use;
  };
  const timer = setInterval(() => void check().catch(() => undefined), o.streamCheckMs ?? 10_000);
  timer.unref();
  void check().catch(() => undefined);
  return { check, close: () => clearInterval(timer) };
}

const ackDecoder = new TextDecoder();

/** JetStream's answer to a publish: `{"stream","seq","duplicate"?}`, or `{"error":{"code","description"}}`. */
export function parsePubAck(data: Uint8Array): { seq: number } {
  let ack: { stream?: unknown; seq?: unknown; error?: { code?: unknown; description?: unknown } };
  try {
    ack = JSON.parse(ackDecoder.decode(data));
  } catch {
    throw new Error(`JetStream answered the append with something that is not JSON (${data.length} bytes)`);
  }
  if (ack.error) {
    throw new Error(
      `JetStream refused the append: ${String(ack.error.description)} (${String(ack.error.code)})`,
    );
  }
  if (
    ack.stream !== LOG_STREAM ||
    typeof ack.seq !== "number" ||
    !Number.isSafeInteger(ack.seq) ||
    ack.seq < 1
  ) {
    throw new Error(`JetStream acknowledged the append with an unexpected stream or sequence`);
  }
  return { seq: ack.seq };
}
