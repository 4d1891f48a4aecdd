import type { KeyObject } from "node:crypto";
import { performance } from "node:perf_hooks";
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { parseServiceName } from "../../core/contract/index.js";
import type { Logger } from "../../core/index.js";
import { XbusError } from "../../core/index.js";
import {
  agencySubjects,
  connectorQueue,
  RouteHeader,
  readHeaders,
  serviceSubject,
} from "../../core/nats/index.js";
import { toBinarySpliced } from "../../core/rpc/index.js";
import { batchedToFields, createRouteVerifier, type ReplySigner, sha256 } from "../../core/signing/index.js";
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
import { AdapterFetchRequestSchema } from "../../proto/gen/xbus/v1/adapter_pb.js";
import {
  type ProviderSignatureSchema,
  type RouteReply,
  RouteReplySchema,
} from "../../proto/gen/xbus/v1/route_pb.js";
import { type AdapterTarget, replaceableTarget } from "./adapter-target.js";
import { createReplayCache } from "./replay-cache.js";

export interface ConnectorOptions {
  nats: NatsConnection;
  agency: string;
  target: AdapterTarget;
  /** Public keys of the brokers whose signed requests this connector accepts. */
  brokerKeys: readonly KeyObject[];
  /** Requests handled at once before new ones get PROVIDER_BUSY. Default 256. */
  maxInFlight?: number;
  /** Routes remembered until their deadlines, so none is served twice (replay-cache.ts). Default 200 000. */
  maxRoutesRemembered?: number;
  /** Signs every record returned (createReplySigner with the connector's certificate). */
  signer?: ReplySigner;
  logger: Logger;
  /** Spans (continuing the broker's trace) and metrics; none when absent. */
  telemetry?: Telemetry;
}

/** A renewed certificate put in force (README, "Rotation"): either part, or both. */
export interface ConnectorRenewal {
  /** Signs the replies from now on; replies already being signed finish with the signer they began with. */
  signer?: ReplySigner;
  /** Takes the adapter calls from now on; the previous target is closed once the calls it took have finished. */
  target?: AdapterTarget;
}

export interface Connector {
  readonly inFlight: number;
  /** Puts a renewed certificate in force without stopping: nothing in flight fails or changes signer. */
  renew(renewal: ConnectorRenewal): void;
  /** Stops taking requests, lets the ones in flight finish. */
  close(): Promise<void>;
}

const ROUTE_HEADERS = [
  RouteHeader.exchangeId,
  RouteHeader.deadline,
  RouteHeader.signature,
  RouteHeader.traceparent,
] as const;

/** The route headers the connector acts on, in one pass over the header block (core/nats/headers.ts). */
function routeHeaders(msg: Msg): {
  exchangeId: string;
  deadline: string;
  signature: string;
  traceparent: string | undefined;
} {
  const h = readHeaders(msg, ROUTE_HEADERS);
  return {
    exchangeId: h[RouteHeader.exchangeId],
    deadline: h[RouteHeader.deadline],
    signature: h[RouteHeader.signature],
    traceparent: h[RouteHeader.traceparent] || undefined,
  };
}

/** How long closing waits for NATS to confirm the drain before it simply unsubscribes. */
const DRAIN_WAIT_MS = 5000;

/**
 * DESIGN step 6, provider side. Serves one agency's subjects in a queue group
 * (run more connectors to scale), checks each request's broker signature,
 * deadline and subject before the adapter sees it, and answers with a
 * RouteReply.
 */
export function startConnector(o: ConnectorOptions): Connector {
  const maxInFlight = o.maxInFlight ?? 256;
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  const log = o.logger;
  const verifyRoute = createRouteVerifier(o.brokerKeys);
  const served = createReplayCache(o.maxRoutesRemembered);
  const target = replaceableTarget(o.target);
  let signer = o.signer;

  const respond = (msg: Msg, body: RouteReply) => {
    if (msg.reply) msg.respond(toBinarySpliced(RouteReplySchema, body));
  };
  const replyError = (msg: Msg, e: XbusError) =>
    respond(
      msg,
      create(RouteReplySchema, {
        result: { case: "error", value: { code: e.code, reason: e.reason, message: e.message } },
      }),
    );
  const replyRecord = async (msg: Msg, record: Any, exchangeId: string) => {
    let providerSignature: MessageInitShape<typeof ProviderSignatureSchema> | undefined;
    let signerCertificate: Uint8Array | undefined;
    // One signer for the whole reply: a renewal while it is being signed must not pair the new
    // certificate's name with the old delegated key, or the other way round.
    const s = signer;
    if (s) {
      const recordSha256 = sha256(record.value);
      providerSignature = {
        signer: s.signer,
        certificateSha256: s.certificateSha256,
        recordSha256,
        ...batchedToFields(await s.sign({ exchangeId, typeUrl: record.typeUrl, recordSha256 })),
        delegatedKey: s.delegatedKey,
        delegation: s.delegation,
      };
      signerCertificate = s.certificate;
    }
    respond(
      msg,
      create(RouteReplySchema, {
        result: { case: "record", value: record },
        providerSignature,
        ...(signerCertificate ? { signerCertificate } : {}),
      }),
    );
  };

  const handle = async (msg: Msg): Promise<void> => {
    const { exchangeId, deadline, signature, traceparent } = routeHeaders(msg);
    const deadlineMs = Number(deadline);
    const tracer = o.telemetry?.tracer;
    const span = tracer?.startSpan(
      SpanName.connector,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          [Attr.messagingSystem]: "nats",
          [Attr.messagingDestination]: msg.subject,
          [Attr.messagingOperation]: "process",
          [Attr.agency]: o.agency,
          [Attr.exchangeId]: exchangeId.slice(0, 64),
        },
      },
      contextFrom(traceparent),
    );
    const traceId = span?.spanContext().traceId ?? traceIdOf(traceparent);
    // Built only when something is logged: most requests log nothing.
    const rlog = () => log.child({ exchange_id: exchangeId.slice(0, 64), trace_id: traceId });
    const started = performance.now();
    let service = "_unknown";
    let status = "OK";
    try {
      if (!(await verifyRoute({ exchangeId, subject: msg.subject, deadlineMs, body: msg.data }, signature))) {
        throw new XbusError("BAD_ROUTE_SIGNATURE", "the request is not signed by a trusted broker");
      }
      if (!Number.isFinite(deadlineMs) || deadlineMs <= Date.now()) {
        throw new XbusError("DEADLINE_EXCEEDED", "the request's deadline has passed");
      }
      const admitted = served.admit(exchangeId, deadlineMs);
      if (admitted === "replayed")
        throw new XbusError("ROUTE_REPLAYED", "this route was served already; a route is served once");
      if (admitted === "full")
        throw new XbusError(
          "PROVIDER_BUSY",
          `the ${o.agency} connector remembers too many routes to take more`,
        );
      const req = fromBinary(AdapterFetchRequestSchema, msg.data);
      const name = parseServiceName(req.service);
      if (name.agency !== o.agency || serviceSubject(name) !== msg.subject || req.exchangeId !== exchangeId) {
        throw new XbusError("WRONG_AGENCY", "the request does not match the subject it came on");
      }
      service = name.full;
      const record = await target.fetch(req, {
        deadline: new Date(deadlineMs),
        traceparent: span ? traceparentOf(span) : traceparent,
        encoded: msg.data,
        routeSignature: signature,
      });
      await replyRecord(msg, record, exchangeId);
    } catch (err) {
      const xe = XbusError.from(err);
      if (
        xe.reason === "BAD_ROUTE_SIGNATURE" ||
        xe.reason === "WRONG_AGENCY" ||
        xe.reason === "ROUTE_REPLAYED"
      )
        rlog().warn({ reason: xe.reason, subject: msg.subject }, "request refused");
      else if (xe.code === 13) rlog().error({ reason: xe.reason, err: xe.cause ?? xe }, "request failed");
      status = xe.reason;
      if (span) recordFailure(span, xe);
      replyError(msg, xe);
    } finally {
      span?.end();
      log.debug({ exchange_id: exchangeId.slice(0, 64), trace_id: traceId, service, status }, "request done");
      o.telemetry?.metrics.connectorDone(
        { agency: o.agency, service, status },
        (performance.now() - started) / 1000,
      );
    }
  };

  const sub: Subscription = o.nats.subscribe(agencySubjects(o.agency), {
    queue: connectorQueue(o.agency),
    callback: (err, msg) => {
      if (err) {
        log.error({ err }, "subscription error");
        return;
      }
      if (inFlight >= maxInFlight) {
        o.telemetry?.metrics.connectorDone(
          { agency: o.agency, service: "_unknown", status: "PROVIDER_BUSY" },
          0,
        );
        replyError(
          msg,
          new XbusError(
            "PROVIDER_BUSY",
            `the ${o.agency} connector is at its limit of ${maxInFlight} requests`,
          ),
        );
        return;
      }
      inFlight++;
      o.telemetry?.metrics.connectorInFlight.add(1, { agency: o.agency });
      const p = handle(msg).finally(() => {
        inFlight--;
        o.telemetry?.metrics.connectorInFlight.add(-1, { agency: o.agency });
        pending.delete(p);
      });
      pending.add(p);
    },
  });
  log.info({ agency: o.agency, subject: agencySubjects(o.agency) }, "connector serving");

  return {
    get inFlight() {
      return inFlight;
    },
    renew(r) {
      if (r.signer) signer = r.signer;
      if (r.target) target.replace(r.target);
    },
    async close() {
      // Drain, not unsubscribe: what NATS routed here before it heard the unsubscribe is still on its way,
      // and an unsubscribed connector would drop it (its requesters then wait out their deadlines). Drain
      // delivers it and ends the subscription. It needs the server's answer: while NATS is unreachable it
      // would wait for the reconnection, so after DRAIN_WAIT_MS the subscription is simply ended.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        sub.drain().catch(() => {}),
        new Promise<void>((r) => {
          timer = setTimeout(r, DRAIN_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!sub.isClosed()) sub.unsubscribe();
      await Promise.allSettled([...pending]);
      target.close();
    },
  };
}
