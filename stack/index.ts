/**
 * Composition roots: where the bus is assembled for xbus dev, the tests, the bench and the real processes (xbus broker). cli/ parses flags and calls these; nothing here reads the CLI's state.
 */

export type { BrokerServices, BrokerServicesOptions } from "./broker-services.js";
export { startBrokerServices, tokenHash } from "./broker-services.js";
export type { DevJson } from "./dev-json.js";
export { DEV_SAMPLE, devJsonOf, journeyArgs, readDevJson } from "./dev-json.js";
export type { NatsIdentity, PemPair, Stack, StackOptions } from "./dev-stack.js";
export {
  DEV_BROKER,
  DEV_CONSUMER,
  DEV_LICENSING,
  DEV_PORTAL,
  exampleAgencies,
  LOG_ID,
  startStack,
  TRUST_DOMAIN,
} from "./dev-stack.js";
export type { NatsAuthOptions, NatsPermissions, NatsTlsFiles } from "./nats/nats-auth.js";
export { DEFAULT_BROKER_PUBLISH_EXTRA, natsAuthConfig, natsPermissionsFor } from "./nats/nats-auth.js";
export type { NatsServerOptions } from "./nats/nats-server.js";
export { findNatsServer, NatsServer, NatsServerNotFoundError } from "./nats/nats-server.js";
