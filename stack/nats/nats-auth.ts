import { parseWorkloadId } from "../../core/contract/index.js";
import { connectorQueue, SERVICE_SUBJECT_PREFIX } from "../../core/nats/index.js";

/**
 * nats-server configuration that gives NATS the same identities as gRPC:
 * mutual TLS with `verify_and_map`, so the SPIFFE ID in a client
 * certificate's URI SAN is the NATS user, and permissions follow the role.
 *
 *   broker          publish service requests (and JetStream API calls), receive replies
 *   connector of A  subscribe to A's subjects only, in A's queue group; publish only replies
 *   anyone else     not a NATS user: the connection is refused
 *
 * Every subject here is built from a parsed SPIFFE ID, never from raw input.
 */
export interface NatsTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface NatsAuthOptions {
  tls: NatsTlsFiles;
  /** SPIFFE IDs of the brokers and connectors allowed on NATS. */
  identities: readonly string[];
  /**
   * What a broker may publish besides service requests. Default: the
   * exchange log's and consent bucket's subjects and the JetStream API.
   */
  brokerPublishExtra?: readonly string[];
}

export interface NatsPermissions {
  publish: { allow?: string[]; deny?: string[] };
  subscribe: { allow: string[] };
  allow_responses?: boolean;
}

/** The exchange log's and consent bucket's subjects, and what a JetStream client publishes: API calls, acks, flow control. */
export const DEFAULT_BROKER_PUBLISH_EXTRA: readonly string[] = [
  "xbus.log.>",
  // Notices to citizen portals of new accesses (broker/citizen/notice-sinks.ts): no record data.
  "xbus.citizen.notify",
  "$KV.xbus_consents.>",
  "$JS.API.>",
  "$JS.ACK.>",
  "$JS.FC.>",
];

/** The permissions of one identity; throws for a role that has no business on NATS. */
export function natsPermissionsFor(
  spiffeId: string,
  brokerPublishExtra = DEFAULT_BROKER_PUBLISH_EXTRA,
): NatsPermissions {
  const id = parseWorkloadId(spiffeId);
  switch (id.role) {
    case "broker":
      return {
        publish: { allow: [`${SERVICE_SUBJECT_PREFIX}.>`, ...brokerPublishExtra] },
        subscribe: { allow: ["_INBOX.>"] },
      };
    case "connector":
      return {
        // Replies go to the requester's inbox, which allow_responses opens for one reply per request.
        publish: { deny: [">"] },
        // "subject queue": only as a member of the agency's queue group, so a connector cannot eavesdrop.
        subscribe: { allow: [`${SERVICE_SUBJECT_PREFIX}.${id.agency}.> ${connectorQueue(id.agency)}`] },
        allow_responses: true,
      };
    default:
      throw new Error(`${spiffeId} is a ${id.role} identity; only brokers and connectors use NATS`);
  }
}

/** The `tls` and `authorization` blocks, for NatsServerOptions.extraConfig. */
export function natsAuthConfig(o: NatsAuthOptions): string {
  const seen = new Set<string>();
  const users = o.identities
    .filter((id) => !seen.has(id) && seen.add(id))
    .map((id) => ({ user: id, permissions: natsPermissionsFor(id, o.brokerPublishExtra) }));
  // nats-server's config format accepts JSON values.
  return [
    "tls {",
    `  cert_file: ${JSON.stringify(o.tls.certFile)}`,
    `  key_file: ${JSON.stringify(o.tls.keyFile)}`,
    `  ca_file: ${JSON.stringify(o.tls.caFile)}`,
    "  verify_and_map: true",
    "  timeout: 5",
    "}",
    `authorization { users: ${JSON.stringify(users, null, 2)} }`,
    "",
  ].join("\n");
}
