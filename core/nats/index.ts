/**
 * NATS as every component uses it: client options, TLS identity in force, subjects, headers, requests, connectivity.
 */

export type { NatsClientOptions } from "./client.js";
export {
  connectComponent,
  connectOrWait,
  NATS_DIAL_TIMEOUT_MS,
  NATS_PING,
  natsClientOptions,
} from "./client.js";
export { watchConnectivity } from "./connectivity.js";
export { natsHeaders, readHeaders } from "./headers.js";
export type { RequestMux } from "./request.js";
export { createRequestMux } from "./request.js";
export {
  agencySubjects,
  connectorQueue,
  RouteHeader,
  SERVICE_SUBJECT_PREFIX,
  serviceSubject,
} from "./subjects.js";
export type { NatsTlsInForce } from "./tls.js";
export { natsTlsInForce } from "./tls.js";
