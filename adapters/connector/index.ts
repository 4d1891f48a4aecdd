// The connector: NATS → adapter bridge for one agency. For users (process wiring, tests).
export {
  type AdapterTarget,
  adapterIdentityCheck,
  fromAdapterStatus,
  type GrpcTargetOptions,
  grpcTarget,
  inProcessTarget,
  type TargetCall,
} from "./adapter-target.js";
export { type Connector, type ConnectorOptions, type ConnectorRenewal, startConnector } from "./connector.js";
export { connectorNatsOptions } from "./nats-options.js";
