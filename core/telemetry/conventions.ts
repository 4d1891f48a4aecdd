/**
 * Attribute and span names the bus emits, in one place so the README and the
 * privacy test can list them. RPC attributes follow the OpenTelemetry RPC
 * conventions as operators' tooling reads them today (`rpc.system`,
 * `rpc.service`, `rpc.method`), plus `rpc.system.name` from semconv 1.45;
 * messaging attributes follow the messaging conventions. None of them ever
 * carries a citizen ID or record data: only service names, agencies, SPIFFE
 * IDs of systems, decisions and status reasons.
 */
export const SpanName = {
  exchange: "xbus.exchange",
  identity: "xbus.identity",
  validation: "xbus.validation",
  policy: "xbus.policy",
  routing: "xbus.routing",
  logAppend: "xbus.log_append",
  connector: "xbus.connector",
  adapter: "xbus.adapter",
} as const;

export const Attr = {
  rpcSystem: "rpc.system",
  rpcSystemName: "rpc.system.name",
  rpcService: "rpc.service",
  rpcMethod: "rpc.method",
  rpcGrpcStatusCode: "rpc.grpc.status_code",
  messagingSystem: "messaging.system",
  messagingDestination: "messaging.destination.name",
  messagingOperation: "messaging.operation.type",
  errorType: "error.type",
  exchangeId: "xbus.exchange_id",
  service: "xbus.service",
  consumer: "xbus.consumer",
  agency: "xbus.agency",
  decision: "xbus.decision",
  reason: "xbus.reason",
} as const;

/** gRPC status codes a server reports as its own failure (RPC conventions): these mark a span as an error. */
export const SERVER_ERROR_CODES: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);
