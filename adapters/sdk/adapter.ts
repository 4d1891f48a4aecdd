import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { AnySchema, anyPack } from "@bufbuild/protobuf/wkt";
import { fieldPathsOf, parseServiceName } from "../../core/contract/index.js";
import type { Logger } from "../../core/index.js";
import { XbusError } from "../../core/index.js";
import { releasedBytes, retainFields } from "../../core/minimise/index.js";
import {
  Attr,
  contextFrom,
  recordFailure,
  SpanKind,
  SpanName,
  type Telemetry,
  traceIdOf,
  traceparentOf,
} from "../../core/telemetry/index.js";
import type {
  AdapterFetchRequest,
  AdapterFetchResponseSchema,
  DescribeResponseSchema,
} from "../../proto/gen/xbus/v1/adapter_pb.js";

/** What a handler returns when the agency holds no record for the subject. */
export const NOT_FOUND: unique symbol = Symbol("xbus.not-found");
export type NotFound = typeof NOT_FOUND;

const ENCODED: unique symbol = Symbol("xbus.encoded-record");

/** A record the handler already holds in protobuf binary (see `encodedRecord`). */
export interface EncodedRecord {
  readonly [ENCODED]: Uint8Array;
}

/**
 * For a handler that holds records already encoded (a cache, a column of
 * protobuf bytes): return `encodedRecord(bytes)` instead of a message. The SDK
 * passes the bytes on as they are when they hold released fields only (one
 * scan, no decoding); otherwise it decodes them, clears what was not released
 * and encodes the rest, as for a message. Bytes that are not a record of the
 * service's type fail the request as INTERNAL.
 */
export function encodedRecord(bytes: Uint8Array): EncodedRecord {
  return { [ENCODED]: bytes };
}

function isEncoded(v: unknown): v is EncodedRecord {
  return typeof v === "object" && v !== null && ENCODED in v;
}

type HandlerResult<S extends DescMessage> = MessageInitShape<S> | NotFound | EncodedRecord;

export interface FetchContext {
  readonly exchangeId: string;
  readonly subjectId: string;
  readonly purpose: string;
  /** Field paths policy released; fill these, the SDK clears the rest anyway. */
  readonly fields: readonly string[];
  /** SPIFFE ID of the consumer system. */
  readonly consumer: string;
  readonly deadline: Date;
  /** Aborted when the deadline passes: pass it to database calls. */
  readonly signal: AbortSignal;
  /** Carries exchange id and service already; never log the subject ID or record data. */
  readonly logger: Logger;
  /** W3C trace context of the exchange, when the consumer sent one: pass it on to your own calls. */
  readonly traceparent: string | undefined;
}

export interface RecordService<S extends DescMessage = DescMessage> {
  readonly record: S;
  fetch(ctx: FetchContext): Promise<HandlerResult<S>>;
  /** Offered in Describe so the conformance kit can fetch one record; a test citizen where possible. */
  readonly sampleSubjectId: string | undefined;
}

export interface RecordServiceOptions {
  /** A subject this service holds a record for, offered to the conformance kit through Describe. */
  sampleSubjectId?: string | undefined;
}

/** Declares one service: its record type and how to fetch a record. Typed by the record's schema. */
export function recordService<S extends DescMessage>(
  record: S,
  fetch: (ctx: FetchContext) => Promise<HandlerResult<S>>,
  options: RecordServiceOptions = {},
): RecordService<S> {
  return { record, fetch, sampleSubjectId: options.sampleSubjectId };
}

export interface AdapterDefinition {
  /** The agency's short name, e.g. `dcrc`. */
  readonly agency: string;
  /** Keyed by service name within the agency, e.g. `citizen-record`. */
  readonly services: Readonly<Record<string, RecordService>>;
}

/** What the transport knows about a call besides the request message. */
export interface CallInfo {
  deadline: Date;
  logger: Logger;
  traceparent?: string | undefined;
}

export interface AdapterHandlers {
  describe(): Promise<MessageInitShape<typeof DescribeResponseSchema>>;
  fetch(
    req: AdapterFetchRequest,
    call: CallInfo,
  ): Promise<MessageInitShape<typeof AdapterFetchResponseSchema>>;
}

export interface AdapterHandlerOptions {
  /** Spans for each fetch, continuing the caller's `traceparent`; none when absent. */
  telemetry?: Telemetry;
}

const SUBJECT_MAX = 64;

/**
 * The adapter's behaviour, independent of transport: the same handlers serve
 * the gRPC server and the in-process mode behind the connector. Requests are
 * checked, the deadline becomes an AbortSignal, the returned record is cut to
 * the released fields, and a handler's own error becomes INTERNAL with no
 * message leaking out.
 */
export function adapterHandlers(def: AdapterDefinition, opts: AdapterHandlerOptions = {}): AdapterHandlers {
  const services = new Map<string, { svc: RecordService; paths: Set<string> }>();
  for (const [name, svc] of Object.entries(def.services)) {
    const full = parseServiceName(`${def.agency}.${name}`).full;
    services.set(full, { svc, paths: fieldPathsOf(svc.record) });
  }
  return {
    async describe() {
      return {
        agency: def.agency,
        services: [...services].map(([service, { svc }]) => ({
          service,
          recordType: svc.record.typeName,
          sampleSubjectId: svc.sampleSubjectId ?? "",
        })),
      };
    },
    async fetch(req, call) {
      const tracer = opts.telemetry?.tracer;
      if (!tracer) return fetchRecord(req, call, traceIdOf(call.traceparent));
      const span = tracer.startSpan(
        SpanName.adapter,
        {
          kind: SpanKind.SERVER,
          attributes: {
            [Attr.rpcSystem]: "grpc",
            [Attr.rpcSystemName]: "grpc",
            [Attr.rpcService]: "xbus.v1.Adapter",
            [Attr.rpcMethod]: "Fetch",
            [Attr.agency]: def.agency,
            [Attr.exchangeId]: req.exchangeId.slice(0, 64),
          },
        },
        contextFrom(call.traceparent),
      );
      try {
        // The handler's own calls become children of the adapter span.
        const inner = { ...call, traceparent: traceparentOf(span) };
        return await fetchRecord(req, inner, span.spanContext().traceId);
      } catch (err) {
        recordFailure(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  };

  async function fetchRecord(
    req: AdapterFetchRequest,
    { deadline, logger, traceparent }: CallInfo,
    traceId: string | undefined,
  ): Promise<MessageInitShape<typeof AdapterFetchResponseSchema>> {
    const entry = services.get(req.service);
    if (!entry)
      throw new XbusError(
        "UNKNOWN_SERVICE",
        `this adapter does not serve ${JSON.stringify(req.service.slice(0, 100))}`,
        { field: "service" },
      );
    if (req.subjectId.length === 0 || req.subjectId.length > SUBJECT_MAX) {
      throw new XbusError("INVALID_SUBJECT_ID", "subject_id must be 1 to 64 characters", {
        field: "subject_id",
      });
    }
    if (req.fields.length === 0)
      throw new XbusError("INVALID_FIELD", "fields: no field was released", { field: "fields" });
    for (const f of req.fields) {
      if (!entry.paths.has(f)) {
        throw new XbusError(
          "UNKNOWN_FIELD",
          `fields: ${JSON.stringify(f.slice(0, 100))} is not a field of ${entry.svc.record.typeName}`,
          {
            field: "fields",
          },
        );
      }
    }
    const remaining = deadline.getTime() - Date.now();
    if (remaining <= 0)
      throw new XbusError("DEADLINE_EXCEEDED", "the deadline passed before the handler ran");
    // A plain timer, cleared when the handler answers (AbortSignal.timeout() costs ~10× more per call in
    // Node 20), and the AbortController only for handlers that read ctx.signal: most answer long before.
    let controller: AbortController | undefined;
    let expired = false;
    const log = lazyChild(logger, { exchange_id: req.exchangeId, trace_id: traceId, service: req.service });
    const ctx: FetchContext = {
      exchangeId: req.exchangeId,
      subjectId: req.subjectId,
      purpose: req.purpose,
      fields: req.fields,
      consumer: req.consumer,
      deadline,
      get signal() {
        if (!controller) {
          controller = new AbortController();
          if (expired) controller.abort(new Error("deadline"));
        }
        return controller.signal;
      },
      logger: log,
      traceparent: traceIdOf(traceparent) ? traceparent : undefined,
    };
    let result: HandlerResult<DescMessage>;
    try {
      result = await new Promise<HandlerResult<DescMessage>>((resolve, reject) => {
        const timer = setTimeout(() => {
          expired = true;
          controller?.abort(new Error("deadline"));
          reject(new XbusError("DEADLINE_EXCEEDED", "the adapter did not answer before the deadline"));
        }, remaining);
        let answer: Promise<HandlerResult<DescMessage>>;
        try {
          answer = entry.svc.fetch(ctx);
        } catch (err) {
          clearTimeout(timer);
          reject(err);
          return;
        }
        answer.then(
          (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          (e: unknown) => {
            clearTimeout(timer);
            reject(e);
          },
        );
      });
    } catch (err) {
      if (err instanceof XbusError) throw err;
      log.error({ err }, "handler failed");
      throw new XbusError("INTERNAL", "the adapter failed", { cause: err });
    }
    if (result === NOT_FOUND) throw new XbusError("SUBJECT_NOT_FOUND", "no record for this subject");
    const schema = entry.svc.record;
    if (isEncoded(result)) {
      let bytes: Uint8Array;
      try {
        bytes = releasedBytes(schema, result[ENCODED], req.fields);
      } catch (err) {
        log.error({ err }, "handler returned bytes that are not a record of the service's type");
        throw new XbusError("INTERNAL", "the adapter failed", { cause: err });
      }
      return {
        record: create(AnySchema, { typeUrl: `type.googleapis.com/${schema.typeName}`, value: bytes }),
      };
    }
    const record = create(entry.svc.record, result);
    retainFields(entry.svc.record, record, req.fields);
    return { record: anyPack(entry.svc.record, record) };
  }
}

/** A child logger made on its first use: most requests log nothing, and a pino child costs a few µs. */
function lazyChild(parent: Logger, fields: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const get = () => {
    child ??= parent.child(fields);
    return child;
  };
  return {
    debug: (f, m) => get().debug(f, m),
    info: (f, m) => get().info(f, m),
    warn: (f, m) => get().warn(f, m),
    error: (f, m) => get().error(f, m),
    child: (f) => get().child(f),
  };
}
