import { checkServerIdentity, type PeerCertificate } from "node:tls";
import type { Any } from "@bufbuild/protobuf/wkt";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { parseWorkloadId, spiffeIdsFromSubjectAltName } from "../../core/contract/index.js";
import type { Logger } from "../../core/index.js";
import { isReason, Reason, XbusError } from "../../core/index.js";
import { callEncoded, createServiceClient } from "../../core/rpc/index.js";
import { RouteMetadata } from "../../core/signing/index.js";
import type { Telemetry } from "../../core/telemetry/index.js";
import { Adapter, type AdapterFetchRequest } from "../../proto/gen/xbus/v1/adapter_pb.js";
import type { AdapterDefinition } from "../sdk/adapter.js";
import { adapterHandlers } from "../sdk/adapter.js";

/**
 * Where a connector sends a request: an adapter's gRPC server (any language),
 * or an SDK adapter in the same process. Both answer with a record or throw an
 * XbusError.
 */
export interface AdapterTarget {
  fetch(req: AdapterFetchRequest, call: TargetCall): Promise<Any>;
  close(): void;
}

/** What the connector hands an adapter besides the request. */
export interface TargetCall {
  /** The route's deadline, as the broker signed it. */
  deadline: Date;
  /**
   * Passed on as W3C trace context (gRPC metadata, or the SDK's FetchContext): the adapter's span becomes
   * a child of the connector's.
   */
  traceparent?: string | undefined;
  /** `req` exactly as the broker signed it: a gRPC target sends those bytes rather than encoding `req` again. */
  encoded?: Uint8Array | undefined;
  /**
   * The broker's route signature as the connector received it (NATS header `Xbus-Broker-Signature`): a
   * gRPC target passes it on with the deadline (README, "The adapter's side of a route"), so the adapter
   * serves only what a broker decided and logged, whoever holds a connector's key.
   */
  routeSignature?: string | undefined;
}

export interface GrpcTargetOptions {
  /** host:port of the adapter. */
  address: string;
  tls: { ca: string; cert: string; key: string };
  /** Name in the adapter's certificate, when it differs from the host in `address`. */
  serverName?: string;
  /**
   * The adapter's certificate must carry `spiffe://<trustDomain>/agency/<agency>/adapter/<name>`: a server
   * of another agency (or any other federation server) with the adapter's host name is refused at the
   * handshake, so the connector never hands it a route or a citizen ID.
   */
  agency: string;
  trustDomain: string;
  /** Hears each refused adapter certificate (a warning naming what it was): the consumer only sees PROVIDER_UNAVAILABLE. */
  logger?: Logger;
}

/**
 * The host name check Node would make, then the SPIFFE ID check: the peer is an adapter of `agency`.
 * Returned, not thrown (tls.checkServerIdentity's contract); the handshake fails with it.
 */
export function adapterIdentityCheck(
  agency: string,
  trustDomain: string,
  logger?: Logger,
): (host: string, cert: PeerCertificate) => Error | undefined {
  const refuse = (why: Error) => {
    logger?.warn({ err: why }, "the adapter's certificate was refused; no request goes to it");
    return why;
  };
  return (host, cert) => {
    const hostError = checkServerIdentity(host, cert);
    if (hostError) return refuse(hostError);
    const ids = spiffeIdsFromSubjectAltName(cert.subjectaltname);
    let id: ReturnType<typeof parseWorkloadId> | undefined;
    try {
      id = ids.length === 1 ? parseWorkloadId(ids[0] as string) : undefined;
    } catch {
      id = undefined;
    }
    if (id?.role === "adapter" && id.agency === agency && id.trustDomain === trustDomain) return undefined;
    return refuse(
      new Error(
        `the server at ${host} is ${id ? id.uri : "no workload"}, not an adapter of agency ${agency} (spiffe://${trustDomain}/agency/${agency}/adapter/<name>)`,
      ),
    );
  };
}

export function grpcTarget(o: GrpcTargetOptions): AdapterTarget {
  const client = createServiceClient(
    Adapter,
    o.address,
    credentials.createSsl(Buffer.from(o.tls.ca), Buffer.from(o.tls.key), Buffer.from(o.tls.cert), {
      checkServerIdentity: adapterIdentityCheck(o.agency, o.trustDomain, o.logger),
    }),
    {
      // The channel reconnects by itself when the adapter restarts; keep the
      // wait short so an agency's restart costs seconds, not minutes.
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 5000,
      "grpc.keepalive_time_ms": 30_000,
      ...(o.serverName ? { "grpc.ssl_target_name_override": o.serverName } : {}),
    },
  );
  return {
    async fetch(req, { deadline, traceparent, encoded, routeSignature }) {
      try {
        const metadata = new Metadata();
        if (traceparent) metadata.set("traceparent", traceparent);
        if (routeSignature) {
          metadata.set(RouteMetadata.signature, routeSignature);
          metadata.set(RouteMetadata.deadline, String(deadline.getTime()));
        }
        const res = encoded
          ? await callEncoded(client, Adapter.method.fetch, encoded, { deadline, metadata })
          : await client.fetch(req, { deadline, metadata });
        if (!res.record) throw new XbusError("PROVIDER_BAD_RECORD", "the adapter answered without a record");
        return res.record;
      } catch (err) {
        throw fromAdapterStatus(err);
      }
    },
    close: () => client.close(),
  };
}

/** A target whose successor can take over while calls run. */
export interface ReplaceableTarget extends AdapterTarget {
  /** New calls go to `next`; the target in force until now is closed once the calls it took have finished. */
  replace(next: AdapterTarget): void;
}

/**
 * Lets a connector change its adapter client (a renewed client certificate)
 * without failing a call. The old client is closed only when its last call
 * has ended, not at once: grpc-js's Client.close() lets calls already on a
 * connection finish, but fails those still waiting for one ("Channel closed
 * before call started").
 */
export function replaceableTarget(first: AdapterTarget): ReplaceableTarget {
  interface InForce {
    target: AdapterTarget;
    calls: number;
    replaced: boolean;
  }
  let now: InForce = { target: first, calls: 0, replaced: false };
  const retire = (t: InForce) => {
    t.replaced = true;
    if (t.calls === 0) t.target.close();
  };
  return {
    fetch(req, call) {
      const t = now;
      t.calls++;
      return t.target.fetch(req, call).finally(() => {
        if (--t.calls === 0 && t.replaced) t.target.close();
      });
    },
    replace(next) {
      const old = now;
      now = { target: next, calls: 0, replaced: false };
      retire(old);
    },
    close: () => retire(now),
  };
}

export function inProcessTarget(
  def: AdapterDefinition,
  logger: Logger,
  telemetry?: Telemetry,
): AdapterTarget {
  const handlers = adapterHandlers(def, { telemetry });
  return {
    // In process the connector's own route check is the adapter's: nothing else can call it.
    async fetch(req, { deadline, traceparent }) {
      const res = await handlers.fetch(req, { deadline, logger, traceparent });
      if (!res.record) throw new XbusError("PROVIDER_BAD_RECORD", "the adapter answered without a record");
      return res.record as Any;
    },
    close: () => {},
  };
}

/**
 * Maps an adapter's gRPC status to what the broker should hear. The adapter's
 * message text is not passed on: it may hold internals of the agency's system.
 */
export function fromAdapterStatus(err: unknown): XbusError {
  if (err instanceof XbusError) return err;
  const se = err as Partial<ServiceError>;
  const reason = se.metadata?.get("xbus-reason")[0];
  if (typeof reason === "string" && isReason(reason) && Reason[reason] === se.code && reason !== "INTERNAL") {
    return new XbusError(reason, `the adapter answered ${reason}`);
  }
  switch (se.code) {
    case status.NOT_FOUND:
      return new XbusError("SUBJECT_NOT_FOUND", "no record for this subject");
    case status.DEADLINE_EXCEEDED:
      return new XbusError("DEADLINE_EXCEEDED", "the adapter did not answer before the deadline");
    case status.UNAVAILABLE:
      return new XbusError("PROVIDER_UNAVAILABLE", "the agency's adapter is unreachable", { cause: err });
    case status.RESOURCE_EXHAUSTED:
      return new XbusError("PROVIDER_BUSY", "the agency's adapter is overloaded");
    default:
      return new XbusError("PROVIDER_ERROR", "the agency's adapter failed", { cause: err });
  }
}
