import { createLogger } from "../../core/index.js";
import { createTelemetry } from "../../core/telemetry/index.js";
import { commandSettings } from "../config/settings.js";
import { CONNECTOR_SETTINGS, loadConnectorConfig } from "../connector/config.js";
import { type ConnectorProcess, startConnectorProcess } from "../connector/run.js";
import type { Command } from "./command.js";
import { serveUntilSignal } from "./serve-until-signal.js";

const HELP = `xbus connector --config FILE [options]

Runs one agency's connector: takes the agency's requests from NATS (queue group
xbus-connector-<agency>), checks the broker's signature and deadline, calls the agency's adapter
over mutual TLS and signs what it returns. Stays up until SIGINT/SIGTERM, then lets the requests
in flight answer and exits 0. Every setting is checked before anything starts; a renewed
certificate, key or trust bundle written over the tls.* files is checked the same way and taken
up without a restart, if the certificate keeps the connector's SPIFFE ID (another identity needs
a restart).

  --config FILE               JSON settings (see README "Running a connector"); paths in it are
                              relative to the file
Settings that can also be given (or overridden) as flags:
  --agency NAME               the agency this connector serves (agency)
  --trust-domain TD           the federation's trust domain; the certificate must be in it (trust_domain)
  --nats URL                  a NATS server, repeatable (nats)
  --ca, --cert, --key FILE    trust bundle, the connector's certificate and key, PEM (tls.ca, tls.cert, tls.key)
  --broker-key FILE           the broker's route-signing public key, PEM, repeatable (broker_keys)
  --adapter HOST:PORT         the agency's adapter (adapter.address)
  --adapter-server-name NAME  name in the adapter's certificate, if not HOST (adapter.server_name)
  --max-in-flight N           requests at once before PROVIDER_BUSY, default 256 (max_in_flight)
  --metrics-port PORT         serve /metrics, /healthz, /readyz on 127.0.0.1:PORT (metrics.port)
adapter.ca, adapter.cert, adapter.key and metrics.host are in the file only.

Logs: JSON lines on stderr, level from XBUS_LOG_LEVEL (debug, info, warn, error; default info).
Traces: OTEL_EXPORTER_OTLP_ENDPOINT and the other OTEL_* variables, as for the broker.`;

export const connectorCommand: Command = {
  name: "connector",
  summary: "run one agency's connector (NATS → the agency's adapter) until SIGTERM",
  async run(args) {
    const parsed = commandSettings({
      command: "xbus connector",
      args,
      help: HELP,
      spec: CONNECTOR_SETTINGS,
      repeatable: ["nats", "broker-key"],
      load: loadConnectorConfig,
    });
    if ("exit" in parsed) return parsed.exit;
    const cfg = parsed.settings;
    const logger = createLogger({ component: "connector", agency: cfg.agency });
    const telemetry = createTelemetry({ serviceName: `xbus-connector-${cfg.agency}` });
    return serveUntilSignal<ConnectorProcess>({
      command: "xbus connector",
      logger,
      telemetry,
      start: () => startConnectorProcess(cfg, { logger, telemetry }),
      ready: (c) =>
        `${cfg.agency} ready as ${cfg.spiffeId}, serving ${c.subjects} → adapter ${cfg.adapter.address}` +
        (c.metricsUrl ? `, metrics ${c.metricsUrl}` : ""),
    });
  },
};
