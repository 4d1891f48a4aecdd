import type { KeyObject } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../core/index.js";
import { XbusError } from "../../core/index.js";
import { leafHash, receiptSignedBytes } from "../../core/log-format/index.js";
import { createRequestMux, natsHeaders, watchConnectivity } from "../../core/nats/index.js";
import { batchedToFields, signBatched } from "../../core/signing/index.js";
import { type Receipt, ReceiptSchema } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { Decision, type ExchangeRecord, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import type { ExchangeOutcome, ExchangeRecorder } from "../exchange/outcome.js";
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
  logger: Logger;
}

const DECISION: Record<ExchangeOutcome["decision"], Decision> = {
  allow: Decision.ALLOW,
  deny: Decision.DENY,
  invalid: Decision.INVALID,
  error: Decision.ERROR,
};

/** Creates the log stream if it is missing; checks the safety settings of one that exists. */
export async function ensureLogStream(nc: NatsConnection, replicas = 1): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    const info = await jsm.streams.info(LOG_STREAM);
    if (!info.config.deny_delete || !info.config.deny_purge) {
      throw new Error(
        `stream ${LOG_STREAM} exists without deny_delete and deny_purge: refusing to log into it`,
      );
    }
  } catch (err) {
    if (!(err instanceof Error) || !/stream not found/i.test(err.message)) throw err;
    await jsm.streams.add({
      name: LOG_STREAM,
      subjects: [LOG_SUBJECT],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.New,
      num_replicas: replicas,
      deny_delete: true,
      deny_purge: true,
      allow_rollup_hdrs: false,
      // Retries of the same exchange id within two minutes are stored once.
      duplicate_window: 120_000_000_000,
    });
  }
}

/** The ExchangeRecord for an outcome: what the log stores, byte for byte. */
export function toRecord(o: ExchangeOutcome, brokerId: string, logSecret: Uint8Array): ExchangeRecord {
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
 * waiting does not serialise the broker.
 */
export async function openExchangeLog(o: ExchangeLogOptions): Promise<ExchangeRecorder> {
  await ensureLogStream(o.nats, o.replicas);
  const ackTimeout = o.ackTimeoutMs ?? 5000;
  const mux = createRequestMux(o.nats);
  // js.publish's request, on the broker's own inbox mux (core/nats/request.ts): the same headers and ack.
  const append = async (bytes: Uint8Array, msgID: string, timeout: number): Promise<{ seq: number }> => {
    const h = natsHeaders({ "Nats-Msg-Id": msgID, "Nats-Expected-Stream": LOG_STREAM });
    const reply = await mux.request(LOG_SUBJECT, bytes, { timeoutMs: timeout, headers: h });
    return parsePubAck(reply.data);
  };
  const retry = createRetryQueue(append, o.logger, ackTimeout);
  // While NATS is down an append would wait for its full timeout; fail at once instead (and queue failures).
  const link = watchConnectivity(o.nats);
  return {
    async record(outcome, opts = {}): Promise<Receipt> {
      const bytes = toBinary(ExchangeRecordSchema, toRecord(outcome, o.brokerId, o.logSecret));
      const left = opts.deadlineMs === undefined ? ackTimeout : opts.deadlineMs - Date.now();
      let seq: number;
      try {
        if (!link.up) throw new Error("no connection to NATS");
        // Leave the broker a moment before the consumer's deadline to send its answer.
        seq = (await append(bytes, outcome.exchangeId, Math.max(50, Math.min(ackTimeout, left - 100)))).seq;
      } catch (err) {
        if (opts.retryLater) retry.add(bytes, outcome.exchangeId);
        o.logger.error(
          { exchange_id: outcome.exchangeId, err, retrying: opts.retryLater === true },
          "exchange log append failed",
        );
        throw new XbusError(
          "LOG_UNAVAILABLE",
          "the exchange log cannot record this exchange; no data was released",
          {
            cause: err,
          },
        );
      }
      const receipt = {
        logId: o.logId,
        leafIndex: BigInt(seq - 1),
        leafHash: leafHash(bytes).toString("hex"),
        timestamp: BigInt(Date.now()),
        brokerId: o.brokerId,
      };
      return create(ReceiptSchema, {
        ...receipt,
        leafHash: Buffer.from(receipt.leafHash, "hex"),
        // Under load one signature covers a batch of receipts (core/signing/batch-signature.ts).
        ...batchedToFields(await signBatched(receiptSignedBytes(receipt), o.signingKey)),
      });
    },
  };
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

const RETRY_CAPACITY = 10_000;

/**
 * Records of failed exchanges that the log could not take within the
 * consumer's deadline. They are retried every second (the exchange id makes a
 * retry idempotent); the queue is bounded, and what overflows is counted and
 * logged rather than silently lost.
 */
function createRetryQueue(
  append: (bytes: Uint8Array, msgID: string, timeout: number) => Promise<unknown>,
  logger: Logger,
  timeout: number,
) {
  const queue = new Map<string, Uint8Array>();
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  const drain = async () => {
    timer = undefined;
    for (const [id, bytes] of queue) {
      try {
        await append(bytes, id, timeout);
        queue.delete(id);
      } catch {
        break; // still down: try again later, in order
      }
    }
    if (queue.size > 0) schedule();
    else logger.info({ dropped }, "exchange log caught up with the records it had to retry");
  };
  const schedule = () => {
    timer ??= setTimeout(() => void drain(), 1000);
    timer.unref();
  };
  return {
    add(bytes: Uint8Array, id: string) {
      if (queue.size >= RETRY_CAPACITY) {
        dropped++;
        logger.error(
          { exchange_id: id, dropped },
          "exchange log retry queue full: a failed exchange's record was dropped",
        );
        return;
      }
      queue.set(id, bytes);
      schedule();
    },
  };
}
