import { performance } from "node:perf_hooks";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import type { ServerUnaryCall } from "@grpc/grpc-js";
import type { Catalogue } from "../../core/contract/index.js";
import type { Logger } from "../../core/index.js";
import { sha256, sha256Hex, uuidv7, XbusError } from "../../core/index.js";
import { releasedBytes } from "../../core/minimise/index.js";
import { type Telemetry, traceIdOf } from "../../core/telemetry/index.js";
import { peerCertificateOf } from "../../core/tls/index.js";
import { type ConsentRecord, decide, type PolicyBundle } from "../../policies/index.js";
import { AdapterFetchRequestSchema } from "../../proto/gen/xbus/v1/adapter_pb.js";
import {
  type FetchRequest,
  FetchRequestSchema,
  type FetchResponse,
  type FetchResponseSchema,
  ReceiptSchema,
} from "../../proto/gen/xbus/v1/exchange_pb.js";
import { identifyPeer } from "../identity/peer-identity.js";
import type { Router } from "../routing/nats-router.js";
import { providerError } from "../routing/provider-error.js";
import { validateFetch } from "../validation/validate-request.js";
import { routingDeadline } from "./deadline.js";
import { beginExchange } from "./exchange-trace.js";
import type { ExchangeOutcome, ExchangeRecorder } from "./outcome.js";
import { policyDenial } from "./policy-denial.js";
import type { RateLimiter } from "./rate-limiter.js";
import type { ReplyCheck } from "./reply-check.js";

export interface ExchangeDeps {
  catalogue: Catalogue;
  /** The policy bundle in force; read once per exchange so a reload never splits one. */
  policy: () => PolicyBundle;
  /** The broker's local copy of the consent bucket: a lookup, no round trip. */
  consents: { get(id: string): ConsentRecord | undefined };
  rates: RateLimiter;
  router: Router;
  /** What a provider's connector signed, checked against its certificate (reply-check.ts). */
  checkReply: ReplyCheck;
  recorder: ExchangeRecorder;
  trustDomain: string;
  subjectIdPattern: RegExp;
  logger: Logger;
  /** Serials revoked since connections were opened (the CRL in force). */
  isRevoked?: (serial: string) => boolean;
  /** Spans and metrics of the exchange path; none when absent. */
  telemetry?: Telemetry;
}

type Call = ServerUnaryCall<Buffer, FetchResponse>;

/** What a request that does not decode is taken as, for the fields its record would carry: nothing. */
const UNDECODED: FetchRequest = create(FetchRequestSchema);

/** The request as the consumer sent it, or why it is not an xbus.v1.FetchRequest (the decoder's words, bounded). */
function decodeFetch(bytes: Uint8Array): { req: FetchRequest; malformed?: string } {
  try {
    return { req: fromBinary(FetchRequestSchema, bytes) };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { req: UNDECODED, malformed: why.replace(/[^\x20-\x7e]/g, "?").slice(0, 120) };
  }
}

const TYPE_URL_PREFIX = "type.googleapis.com/";

/**
 * The path of one exchange (DESIGN "The path of one exchange", steps 1–8):
 * identity → validation → policy → routing → minimisation → log → answer.
 * Every attempt, whatever its end, is handed to the recorder. `bytes` is the
 * request as received, undecoded (core/rpc `rawRequests`): one that does not
 * decode is an attempt like any other, answered MALFORMED_REQUEST and logged
 * as invalid with its hash and the caller's identity.
 */
export async function fetchExchange(
  deps: ExchangeDeps,
  bytes: Uint8Array,
  call: Call,
): Promise<MessageInitShape<typeof FetchResponseSchema>> {
  const started = performance.now();
  const { req, malformed } = decodeFetch(bytes);
  const traceparent = firstString(call.metadata.get("traceparent"));
  const deadlineMs = routingDeadline(call.getDeadline());
  const t = beginExchange(deps.telemetry, deps.catalogue, deps.logger, traceparent);
  const outcome: ExchangeOutcome = {
    exchangeId: uuidv7(),
    startedAt: Date.now(),
    consumer: undefined,
    certSerial: undefined,
    service: req.service.slice(0, 128),
    subjectId: req.subjectId.slice(0, 64),
    purpose: req.purpose.slice(0, 64),
    consentId: req.consentId.slice(0, 128),
    requestId: req.requestId.slice(0, 128),
    legalOrderRef: "",
    discloseAfter: 0,
    decision: "invalid",
    matchedGrants: [],
    bundleHash: "",
    fieldsRequested: req.fields.slice(0, 64).map((f) => f.slice(0, 128)),
    fieldsReleased: [],
    fieldsWithheld: [],
    status: "OK",
    reasonText: "",
    requestHash: sha256Hex(bytes),
    responseHash: "",
    traceId: t.traceId ?? traceIdOf(traceparent) ?? "",
    latencyMs: 0,
  };
  try {
    t.enter("identity");
    const peer = identifyPeer(peerCertificateOf(call), deps.trustDomain, deps.isRevoked);
    outcome.consumer = peer.id.uri;
    outcome.certSerial = peer.serial;
    if (peer.id.role !== "system") {
      throw new XbusError(
        "WRONG_ROLE",
        `${peer.id.uri} is a ${peer.id.role} identity; only system identities may fetch`,
      );
    }
    t.enter("validation");
    if (malformed !== undefined) {
      throw new XbusError(
        "MALFORMED_REQUEST",
        `the request does not decode as an xbus.v1.FetchRequest (${malformed}); nothing was read from it`,
      );
    }
    const bundle = deps.policy();
    outcome.bundleHash = bundle.hash;
    const v = validateFetch(req, {
      catalogue: deps.catalogue,
      purposes: bundle.purposes,
      subjectIdPattern: deps.subjectIdPattern,
    });

    t.enter("policy");
    const decision = decide(bundle, {
      consumer: peer.id,
      service: v.service.service.full,
      purpose: v.purpose,
      fields: v.fields,
      subjectId: v.subjectId,
      now: Date.now(),
      consentId: v.consentId,
      consent: v.consentId === "" ? undefined : deps.consents.get(v.consentId),
      legalOrderRef: v.legalOrderRef,
    });
    outcome.decision = "deny";
    outcome.matchedGrants = decision.matchedGrants;
    outcome.fieldsWithheld = decision.withheld;
    // Logged as given once it has passed validation, whatever the decision: the order is part of the record.
    outcome.legalOrderRef = v.legalOrderRef;
    if (!decision.allow) throw policyDenial(decision);
    // From here the exchange was allowed under a covert grant, if so: whatever follows stays embargoed.
    outcome.discloseAfter = decision.discloseAt ?? 0;
    await deps.rates.take(peer.id.uri, decision.rates);
    outcome.decision = "allow";

    const recordType = v.service.recordType;
    const body = toBinary(
      AdapterFetchRequestSchema,
      create(AdapterFetchRequestSchema, {
        exchangeId: outcome.exchangeId,
        service: v.service.service.full,
        subjectId: v.subjectId,
        purpose: v.purpose,
        fields: [...decision.released],
        consumer: peer.id.uri,
      }),
    );
    deps.recorder.admit?.();
    t.enter("routing", v.service.service);
    const reply = await deps.router.route({
      service: v.service.service,
      body,
      exchangeId: outcome.exchangeId,
      consumer: peer.id.uri,
      purpose: v.purpose,
      fields: decision.released,
      deadlineMs,
      traceparent: t.traceparent(),
    });
    if (reply.result.case === "error") {
      const { error, refusal } = providerError(reply.result.value, v.service.service);
      if (refusal)
        deps.logger.warn(
          { exchange_id: outcome.exchangeId, service: outcome.service, reason: refusal },
          "the provider's connector refused the broker's route",
        );
      throw error;
    }
    if (
      reply.result.case !== "record" ||
      reply.result.value.typeUrl !== TYPE_URL_PREFIX + recordType.typeName
    ) {
      throw new XbusError(
        "PROVIDER_BAD_RECORD",
        `${v.service.service.full} answered with a record of the wrong type`,
      );
    }
    const sentSha256 = sha256(reply.result.value.value);
    outcome.providerSignature = await deps.checkReply({
      exchangeId: outcome.exchangeId,
      service: v.service.service,
      typeUrl: reply.result.value.typeUrl,
      recordSha256: sentSha256,
      signature: reply.providerSignature,
      certificate: reply.signerCertificate,
    });
    // Step 7: clear everything policy did not release, whatever the adapter sent. Records that carry
    // nothing else (the SDK cuts them to the released fields) pass as they are, after one wire scan.
    const sent = reply.result.value.value;
    let recordBytes: Uint8Array;
    try {
      recordBytes = releasedBytes(recordType, sent, decision.released);
    } catch (err) {
      throw new XbusError(
        "PROVIDER_BAD_RECORD",
        `${v.service.service.full} answered with a record that does not decode`,
        { cause: err },
      );
    }
    outcome.fieldsReleased = decision.released;
    // A record passed as sent was hashed once already, to check the connector's signature (1–2 ms at 500 KB).
    outcome.responseHash = recordBytes === sent ? sentSha256.toString("hex") : sha256Hex(recordBytes);
    outcome.latencyMs = performance.now() - started;
    // Step 8: log, then answer. If the log cannot take it, the consumer gets no record.
    t.enter("log_append");
    const receipt = await deps.recorder.record(outcome, { deadlineMs });
    t.end(outcome);
    return {
      exchangeId: outcome.exchangeId,
      record: create(AnySchema, { typeUrl: TYPE_URL_PREFIX + recordType.typeName, value: recordBytes }),
      releasedFields: [...decision.released],
      withheldFields: [...decision.withheld],
      receipt,
    };
  } catch (err) {
    const xe = XbusError.from(err);
    xe.exchangeId = outcome.exchangeId;
    t.fail(xe);
    if (xe.reason === "INTERNAL" || xe.reason === "PROVIDER_ERROR") {
      deps.logger.error(
        {
          exchange_id: outcome.exchangeId,
          trace_id: outcome.traceId,
          service: outcome.service,
          err: xe.cause ?? xe,
        },
        "exchange failed",
      );
    }
    if (outcome.decision === "allow") outcome.decision = "error";
    outcome.status = xe.reason;
    outcome.reasonText = xe.message;
    outcome.latencyMs = performance.now() - started;
    outcome.fieldsReleased = []; // nothing reached the consumer
    outcome.responseHash = "";
    t.enter("log_append");
    try {
      const receipt = await deps.recorder.record(outcome, { deadlineMs, retryLater: true });
      if (receipt) xe.receipt = toBinary(ReceiptSchema, receipt);
    } catch (logErr) {
      deps.logger.error(
        { exchange_id: outcome.exchangeId, trace_id: outcome.traceId, err: logErr },
        "could not record a failed exchange",
      );
    }
    t.end(outcome, xe);
    throw xe;
  }
}

function firstString(values: unknown[]): string | undefined {
  const v = values[0];
  return typeof v === "string" && v.length <= 55 ? v : undefined;
}
