import type { KeyObject } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { errors, type NatsConnection } from "@nats-io/transport-node";
import type { ServiceName } from "../../core/contract/index.js";
import { XbusError } from "../../core/index.js";
import {
  createRequestMux,
  natsHeaders,
  RouteHeader,
  serviceSubject,
  watchConnectivity,
} from "../../core/nats/index.js";
import { signRoute } from "../../core/signing/index.js";
import { type RouteReply, RouteReplySchema } from "../../proto/gen/xbus/v1/route_pb.js";

export interface RouteInput {
  service: ServiceName;
  /** AdapterFetchRequest, protobuf binary. */
  body: Uint8Array;
  exchangeId: string;
  consumer: string;
  purpose: string;
  fields: readonly string[];
  /** Absolute, milliseconds since the epoch. */
  deadlineMs: number;
  traceparent?: string;
}

export interface Router {
  route(input: RouteInput): Promise<RouteReply>;
}

/**
 * DESIGN step 5: a NATS request to the provider agency's connectors (queue
 * group), signed by the broker, bounded by the consumer's deadline. NATS
 * failures are mapped here and nowhere else:
 *   no responders            → UNAVAILABLE  PROVIDER_UNAVAILABLE (at once, not at the deadline)
 *   no reply by the deadline → DEADLINE_EXCEEDED
 *   connection closed/lost   → UNAVAILABLE  BUS_UNAVAILABLE
 */
export function createNatsRouter(opts: {
  nc: NatsConnection;
  brokerId: string;
  signingKey: KeyObject;
}): Router {
  // While the connection is down nats.js would buffer the request until the deadline; answer at once instead.
  const link = watchConnectivity(opts.nc);
  const mux = createRequestMux(opts.nc);
  return {
    async route(input) {
      if (!link.up) {
        throw new XbusError(
          "BUS_UNAVAILABLE",
          "the broker has lost its connection to the bus; retry shortly",
        );
      }
      const subject = serviceSubject(input.service);
      const signature = await signRoute(opts.signingKey, {
        exchangeId: input.exchangeId,
        subject,
        deadlineMs: input.deadlineMs,
        body: input.body,
      });
      const h = natsHeaders({
        [RouteHeader.exchangeId]: input.exchangeId,
        [RouteHeader.consumer]: input.consumer,
        [RouteHeader.purpose]: input.purpose,
        [RouteHeader.fields]: input.fields.join(","),
        [RouteHeader.deadline]: String(input.deadlineMs),
        [RouteHeader.brokerId]: opts.brokerId,
        [RouteHeader.traceparent]: input.traceparent || undefined,
        [RouteHeader.signature]: signature,
      });
      const timeout = Math.max(1, input.deadlineMs - Date.now());
      let data: Uint8Array;
      try {
        const msg = await mux.request(subject, input.body, { timeoutMs: timeout, headers: h });
        data = msg.data;
      } catch (err) {
        throw mapNatsError(err, input.service);
      }
      try {
        return fromBinary(RouteReplySchema, data);
      } catch (err) {
        throw new XbusError(
          "PROVIDER_ERROR",
          `the connector of ${input.service.agency} sent a malformed reply`,
          { cause: err },
        );
      }
    },
  };
}

export function mapNatsError(err: unknown, service: ServiceName): XbusError {
  const cause = err instanceof errors.RequestError && err.cause !== undefined ? err.cause : err;
  if (err instanceof errors.RequestError && /connection (closed|draining)|disconnect/i.test(err.message)) {
    return new XbusError("BUS_UNAVAILABLE", "the broker has no connection to the bus", { cause: err });
  }
  if (
    (err instanceof errors.RequestError && err.isNoResponders()) ||
    cause instanceof errors.NoRespondersError
  ) {
    return new XbusError(
      "PROVIDER_UNAVAILABLE",
      `no connector of agency ${service.agency} is serving ${service.full}`,
      { cause: err },
    );
  }
  if (cause instanceof errors.TimeoutError) {
    return new XbusError("DEADLINE_EXCEEDED", `${service.full} did not answer before the deadline`, {
      cause: err,
    });
  }
  if (
    cause instanceof errors.ClosedConnectionError ||
    cause instanceof errors.DrainingConnectionError ||
    cause instanceof errors.ConnectionError
  ) {
    return new XbusError("BUS_UNAVAILABLE", "the broker has no connection to the bus", { cause: err });
  }
  return new XbusError("INTERNAL", "routing failed", { cause: err });
}
