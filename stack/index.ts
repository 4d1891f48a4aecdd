/**
 * Composition roots: where the bus is assembled. cli/ parses flags and calls
 * these; tests, the bench and xbus dev import this file only. Nothing here
 * reads the CLI's state (dev.json is written here, and read by the CLI).
 *
 * Where one exchange is assembled: `startStack` (dev-stack.ts) issues the
 * identities (identities.ts), starts nats-server with its auth config
 * (nats/), the provider agencies (agencies.ts), the log's secrets
 * (log-secrets.ts) and the broker's services (broker-services.ts: consent
 * store, exchange log, indexer, review API, the gRPC front door), the last
 * wired the same for `xbus broker`.
 */

export { devConnectorId, exampleAgencies } from "./agencies.js";
export type { BrokerServices, BrokerServicesOptions } from "./broker-services.js";
// The broker's services, wired the same for `xbus broker` and the stack.
export { startBrokerServices, tokenHash } from "./broker-services.js";
export type { DevCitizenUser } from "./citizen-idp.js";
// "Who read my data" with the dev identity provider (a real OpenID provider) as its issuer.
export { type CitizenPageJson, DEV_CITIZEN_CLAIM, devCitizenUsers } from "./citizen-page.js";
// The federation's topology on one machine: a core cluster, a leaf per agency, two brokers, a standby log service.
export {
  type ClusterStack,
  type ClusterStackOptions,
  DEV_ROUTE,
  devLeafId,
  startClusterStack,
} from "./dev-cluster.js";
export type { DevJson } from "./dev-json.js";
// dev.json: what xbus dev tells other tools (the CLI's defaults, the conformance kit), and the journeys' flags.
export {
  DEV_SAMPLE,
  devJsonOf,
  journeyArgs,
  readDevJson,
} from "./dev-json.js";
export type { ExtraBroker, ExtraLogService, NatsIdentity, Stack, StackOptions } from "./dev-stack.js";
// The whole bus on one machine: xbus dev, the end-to-end tests, the bench.
export { LOG_ID, startStack } from "./dev-stack.js";
// The admin's step: XBUS_LOG and the consent bucket made or brought to their settings (xbus federation init).
export {
  type FederationInitOptions,
  type InitStep,
  initFederation,
  waitForJetStream,
} from "./federation-init.js";
export type { Identities, IssuedPair, PemPair } from "./identities.js";
export {
  DEV_ADMIN,
  DEV_BROKER,
  DEV_CONSUMER,
  DEV_LICENSING,
  DEV_LOG,
  DEV_PORTAL,
  LOOPBACK,
  openIdentities,
  TRUST_DOMAIN,
} from "./identities.js";
// The log service (xbus log serve): indexer, the one tree-head signer, review API.
export {
  DEFAULT_LEASE_MS,
  type LogService,
  type LogServiceOptions,
  policyWitnesses,
  startLogService,
  WITNESSING_DEFAULTS,
  type WitnessingSettings,
} from "./log-service.js";
export type { NatsAuthOptions, NatsPermissions, NatsTlsFiles, NatsUser } from "./nats/nats-auth.js";
// nats-server for dev and tests: spawned on free ports, and its mutual-TLS users from the issued identities.
export {
  DEFAULT_BROKER_PUBLISH_EXTRA,
  natsAuthConfig,
  natsPermissionsFor,
  natsUsers,
  natsUsersConfig,
} from "./nats/nats-auth.js";
export type { CoreCluster, CoreClusterOptions, LeafNodeOptions } from "./nats/nats-cluster.js";
// The federation's core cluster and agencies' leaf nodes, from deploy/nats's example configs.
export { freePorts, renderExample, startCoreCluster, startLeafNode } from "./nats/nats-cluster.js";
// The NATS users of a federation from the CA's ledger (xbus nats config).
export { type NatsLedgerConfig, natsConfigFromLedger } from "./nats/nats-ledger-config.js";
export type { NatsServerOptions } from "./nats/nats-server.js";
export { findNatsServer, NatsServer, NatsServerNotFoundError } from "./nats/nats-server.js";
export { makePrivateDir, makePrivateFile, writeDevJson } from "./private-files.js";
// A C2SP tlog-witness with its key and state in a folder (xbus witness; xbus dev runs two).
export {
  startWitnessService,
  WITNESS_KEY_FILE,
  WITNESS_STATE_FILE,
  type WitnessService,
  type WitnessServiceOptions,
  witnessKey,
  witnessLogs,
} from "./witness-service.js";
