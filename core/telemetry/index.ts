// Telemetry for process wiring (createTelemetry, serveMetrics) and the span
// helpers the broker, connector and adapter use to join one trace.
export { Attr, SpanName } from "./conventions.js";
export type { ExchangeLabels, LogMetrics, Stage, XbusMetrics } from "./metrics.js";
export {
  type MetricsServer,
  PROMETHEUS_CONTENT_TYPE,
  type ReadinessChecks,
  serveMetrics,
} from "./metrics-server.js";
export { countNatsReconnects } from "./nats-reconnects.js";
export {
  contextFrom,
  recordFailure,
  SpanKind,
  traceIdOf,
  traceparentOf,
} from "./spans.js";
export { createTelemetry, type Telemetry, type TelemetryOptions } from "./telemetry.js";
