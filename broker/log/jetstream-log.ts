import { createHash, type KeyObject, sign } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { XbusError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { leafHash, receiptSignedBytes } from "../../core/merkle-hash.js";
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
  const js = jetstream(o.nats);
  const timeout = o.ackTimeoutMs ?? 5000;
  return {
    async record(outcome): Promise<Receipt> {
      const bytes = toBinary(ExchangeRecordSchema, toRecord(outcome, o.brokerId, o.logSecret));
      let seq: number;
      try {
        const ack = await js.publish(LOG_SUBJECT, bytes, {
          msgID: outcome.exchangeId,
          timeout,
          expect: { streamName: LOG_STREAM },
        });
        seq = ack.seq;
      } catch (err) {
        o.logger.error({ exchange_id: outcome.exchangeId, err }, "exchange log append failed");
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
        signature: sign(null, receiptSignedBytes(receipt), o.signingKey),
      });
    },
  };
}

/** Lowercase hex SHA-256, for request and response hashes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
