/**
 * gRPC helpers shared by broker, connector and adapters: status with reasons, splicing protobuf bytes.
 */

export type { CallOptions, RawUnaryHandler, ServiceClient, ServiceHandlers, UnaryHandler } from "./grpc.js";
export {
  callEncoded,
  createServiceClient,
  reasonOf,
  receivedBytes,
  serviceDefinition,
  serviceImplementation,
} from "./grpc.js";
export { toBinarySpliced } from "./proto-splice.js";
