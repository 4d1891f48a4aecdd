import { isAgencyName, type ServiceName } from "../contract/index.js";

/**
 * NATS subjects and queue groups of the bus. They are built only from parsed
 * ServiceName values or checked agency names, never from raw input.
 */
export const SERVICE_SUBJECT_PREFIX = "xbus.svc";

export function serviceSubject(service: ServiceName): string {
  return `${SERVICE_SUBJECT_PREFIX}.${service.agency}.${service.name}`;
}

/** What an agency's connectors subscribe to: every service of that agency. */
export function agencySubjects(agency: string): string {
  if (!isAgencyName(agency)) throw new Error(`invalid agency name ${JSON.stringify(agency)}`);
  return `${SERVICE_SUBJECT_PREFIX}.${agency}.*`;
}

export function connectorQueue(agency: string): string {
  if (!isAgencyName(agency)) throw new Error(`invalid agency name ${JSON.stringify(agency)}`);
  return `xbus-connector-${agency}`;
}

/** NATS headers on a routed request. */
export const RouteHeader = {
  exchangeId: "Xbus-Exchange-Id",
  traceparent: "traceparent",
  consumer: "Xbus-Consumer",
  purpose: "Xbus-Purpose",
  fields: "Xbus-Fields",
  /** Milliseconds since the epoch after which the broker no longer waits. */
  deadline: "Xbus-Deadline",
  brokerId: "Xbus-Broker-Id",
  /** base64 Ed25519 signature, see core/signing/route-signature.ts. */
  signature: "Xbus-Broker-Signature",
} as const;
