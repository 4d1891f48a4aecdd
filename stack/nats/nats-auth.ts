import { parseWorkloadId } from "../../core/contract/index.js";
import { connectorQueue, SERVICE_SUBJECT_PREFIX } from "../../core/nats/index.js";

/**
 * nats-server configuration that gives NATS the same identities as gRPC:
 * mutual TLS with `verify_and_map`, so the SPIFFE ID in a client
 * certificate's URI SAN is the NATS user, and permissions follow the role.
 *
 *   broker          publish service requests and log appends, use the consent bucket, receive replies;
 *                   no JetStream API call that creates, changes, purges or deletes a stream
 *   admin           the JetStream API (xbus federation init creates and updates streams and buckets)
 *   connector of A  subscribe to A's subjects only, in A's queue group; publish only replies
 *   leaf of A       (core only, leaf-node connections only) receive A's requests, send replies
 *   log             read the log stream through a consumer, read and swap the signed head (KV), notify
 *                   citizen portals; no append to the log, no service request, no stream change
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

export interface NatsUser {
  user: string;
  permissions: NatsPermissions;
  allowed_connection_types?: string[];
}

/** Reading the log stream through a consumer of one's own (the indexer): never a change to it. */
const LOG_READ: readonly string[] = [
  "$JS.API.INFO",
  "$JS.API.STREAM.INFO.XBUS_LOG",
  "$JS.API.CONSUMER.CREATE.XBUS_LOG",
  "$JS.API.CONSUMER.CREATE.XBUS_LOG.>",
  "$JS.API.CONSUMER.INFO.XBUS_LOG.*",
  "$JS.API.CONSUMER.DELETE.XBUS_LOG.*",
  "$JS.API.CONSUMER.MSG.NEXT.XBUS_LOG.*",
  "$JS.API.STREAM.MSG.GET.XBUS_LOG",
  "$JS.ACK.XBUS_LOG.>",
  // Notices to citizen portals of new accesses (broker/citizen/notice-sinks.ts): no record data.
  "xbus.citizen.notify",
];

/** A KV bucket used through nats.js: its keys, its stream's info, watchers and direct gets. */
const kvBucket = (bucket: string): string[] => [
  `$KV.${bucket}.>`,
  `$JS.API.STREAM.INFO.KV_${bucket}`,
  `$JS.API.CONSUMER.CREATE.KV_${bucket}`,
  `$JS.API.CONSUMER.CREATE.KV_${bucket}.>`,
  `$JS.API.CONSUMER.DELETE.KV_${bucket}.*`,
  `$JS.API.DIRECT.GET.KV_${bucket}.>`,
  `$JS.API.STREAM.MSG.GET.KV_${bucket}`,
];

/**
 * What a broker publishes besides service requests, subject by subject: its
 * appends to the log, the JetStream API calls it makes (stream info, never
 * create/update/purge/delete), the consent bucket, the federation-wide rate leases and the log's last
 * signed head (the log service presents a broker-role certificate today; README "Log service"), and acks
 * and flow control.
 * The log's consumer calls are for the indexer while it runs in the broker's
 * process; they let it read the stream, not change it.
 */
export const DEFAULT_BROKER_PUBLISH_EXTRA: readonly string[] = [
  "xbus.log.exchanges",
  ...LOG_READ,
  ...kvBucket("xbus_consents"),
  ...kvBucket("xbus_rates"),
  ...kvBucket("XBUS_LOG_HEAD"),
  "$JS.FC.>",
];

/** Never a broker's, whatever an allow above says: the log's stream and the buckets are the admin's. */
const BROKER_PUBLISH_DENY = [
  "$JS.API.STREAM.CREATE.>",
  "$JS.API.STREAM.UPDATE.>",
  "$JS.API.STREAM.DELETE.>",
  "$JS.API.STREAM.PURGE.>",
  "$JS.API.STREAM.MSG.DELETE.>",
];

/**
 * The log service's calls: the log stream read through its own consumer, the last signed head and the
 * signer's lease in XBUS_LOG_HEAD (compare-and-swap), citizen notices.
 */
const LOG_SERVICE_PUBLISH: readonly string[] = [...LOG_READ, ...kvBucket("XBUS_LOG_HEAD"), "$JS.FC.>"];

/** The permissions of one identity; throws for a role that has no business on NATS. */
export function natsPermissionsFor(
  spiffeId: string,
  brokerPublishExtra = DEFAULT_BROKER_PUBLISH_EXTRA,
): NatsPermissions {
  const id = parseWorkloadId(spiffeId);
  switch (id.role) {
    case "broker":
      return {
        publish: { allow: [`${SERVICE_SUBJECT_PREFIX}.>`, ...brokerPublishExtra], deny: BROKER_PUBLISH_DENY },
        subscribe: { allow: ["_INBOX.>"] },
      };
    case "admin":
      return { publish: { allow: ["$JS.API.>"] }, subscribe: { allow: ["_INBOX.>"] } };
    case "log":
      return {
        publish: { allow: [...LOG_SERVICE_PUBLISH], deny: BROKER_PUBLISH_DENY },
        subscribe: { allow: ["_INBOX.>"] },
      };
    case "leaf":
      // Seen from the core: what the leaf may send in (replies; allow_responses does not apply to leaf
      // connections) and what the core forwards to it (its agency's requests, nothing else).
      return {
        publish: { allow: ["_INBOX.>"] },
        subscribe: { allow: [`${SERVICE_SUBJECT_PREFIX}.${id.agency}.>`] },
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
      throw new Error(
        `${spiffeId} is a ${id.role} identity; only brokers, log services, admins, connectors and leaf nodes use NATS`,
      );
  }
}

/**
 * nats-server 2.9 reads an empty users list as "no authentication at all", so a
 * list with nobody in it holds this user instead: no certificate maps to it (it is
 * neither a SPIFFE ID nor a DN) and it may do nothing.
 */
const NOBODY: NatsUser = {
  user: "xbus:nobody",
  permissions: { publish: { deny: [">"] }, subscribe: { allow: [] } },
};

/** One user per identity, each with its role's permissions; leaf identities only on leaf-node connections. */
export function natsUsers(
  identities: readonly string[],
  brokerPublishExtra = DEFAULT_BROKER_PUBLISH_EXTRA,
): NatsUser[] {
  const seen = new Set<string>();
  return identities
    .filter((id) => !seen.has(id) && seen.add(id))
    .map((id) => {
      const permissions = natsPermissionsFor(id, brokerPublishExtra);
      return parseWorkloadId(id).role === "leaf"
        ? { user: id, permissions, allowed_connection_types: ["LEAFNODE"] }
        : { user: id, permissions };
    });
}

/** The `authorization` block alone (the include files of deploy/nats/*.conf); never empty (see NOBODY). */
export function natsUsersConfig(
  identities: readonly string[],
  brokerPublishExtra = DEFAULT_BROKER_PUBLISH_EXTRA,
): string {
  const users = natsUsers(identities, brokerPublishExtra);
  // nats-server's config format accepts JSON values.
  return `authorization { users: ${JSON.stringify(users.length > 0 ? users : [NOBODY], null, 2)} }\n`;
}

/** The `tls` and `authorization` blocks, for NatsServerOptions.extraConfig. */
export function natsAuthConfig(o: NatsAuthOptions): string {
  return [
    "tls {",
    `  cert_file: ${JSON.stringify(o.tls.certFile)}`,
    `  key_file: ${JSON.stringify(o.tls.keyFile)}`,
    `  ca_file: ${JSON.stringify(o.tls.caFile)}`,
    "  verify_and_map: true",
    "  timeout: 5",
    "}",
    natsUsersConfig(o.identities, o.brokerPublishExtra),
  ].join("\n");
}
