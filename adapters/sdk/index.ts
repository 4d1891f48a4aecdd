// The adapter SDK, for integrators: declare services with recordService,
// group them with an AdapterDefinition, serve with serveAdapter (gRPC) or hand
// the definition to the connector to run it in process.
export {
  type AdapterDefinition,
  type AdapterHandlers,
  adapterHandlers,
  type CallInfo,
  type EncodedRecord,
  encodedRecord,
  type FetchContext,
  NOT_FOUND,
  type NotFound,
  type RecordService,
  type RecordServiceOptions,
  recordService,
} from "./adapter.js";
export { createRouteCheck, type RouteCheck } from "./route-check.js";
export { type AdapterServer, type ServeAdapterOptions, serveAdapter } from "./serve.js";
