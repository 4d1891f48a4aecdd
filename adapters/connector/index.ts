// The connector: NATS → adapter bridge for one agency. For users (process wiring, tests).
export {
  type AdapterTarget,
  fromAdapterStatus,
  type GrpcTargetOptions,
  grpcTarget,
  inProcessTarget,
} from "./adapter-target.js";
export { type Connector, type ConnectorOptions, type ConnectorRenewal, startConnector } from "./connector.js";
export { connectorNatsOptions } from "./nats-options.js";
