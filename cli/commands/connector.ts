import { Command } from "commander";
import { createLogger } from "../../core/index.js";
import { createTelemetry } from "../../core/telemetry/index.js";
import { CONNECTOR_SETTINGS, loadConnectorConfig } from "../connector/config.js";
import { type ConnectorProcess, startConnectorProcess } from "../connector/run.js";
import type { XbusCommand } from "./command.js";
import { serveUntilSignal } from "./serve-until-signal.js";
import { type FlagsHelp, settingsCommand } from "./settings-flags.js";

const FLAGS: FlagsHelp<typeof CONNECTOR_SETTINGS> = {
  agency: { value: "name", description: "the agency this connector serves" },
  "trust-domain": {
    value: "td",
    description: "the federation's trust domain; the certificate must be in it",
  },
  nats: { value: "url", description: "a NATS server", repeatable: true },
  ca: { value: "file", description: "the federation's trust bundle, PEM, watched" },
  cert: {
    value: "file",
    description:
      "the connector's certificate, PEM, watched: a renewal is taken if it passes the start-up checks and keeps the connector's SPIFFE ID",
  },
  key: { value: "file", description: "the connector's key, PEM, watched with the certificate" },
  "broker-key": {
    value: "file",
    description: "the broker's route-signing public key, PEM",
    repeatable: true,
  },
  adapter: { value: "host:port", description: "the agency's adapter" },
  "adapter-server-name": { value: "name", description: "name in the adapter's certificate, if not HOST" },
  "max-in-flight": { value: "n", description: "requests at once before PROVIDER_BUSY, default 256" },
  "metrics-port": { value: "port", description: "serve /metrics, /healthz, /readyz on 127.0.0.1:PORT" },
};

export const connectorCommand: XbusCommand = {
  name: "connector",
  create: (run) =>
    settingsCommand(
      run,
      new Command("connector")
        .summary("run one agency's connector (NATS → the agency's adapter) until SIGTERM")
        .description(
          "Runs one agency's connector: takes the agency's requests from NATS (queue group " +
            "xbus-connector-<agency>), checks the broker's signature and deadline, calls the agency's adapter " +
            "over mutual TLS and signs what it returns. Every setting is checked before anything starts; a flag " +
            "overrides the file's setting. Stays up until SIGINT/SIGTERM, then lets the requests in flight " +
            "answer and exits 0. Logs: JSON lines on stderr, level from XBUS_LOG_LEVEL (debug, info, warn, " +
            "error; default info). Traces: the OTEL_* variables, as for the broker.",
        ),
      {
        spec: CONNECTOR_SETTINGS,
        help: FLAGS,
        readme: "Running a connector",
        load: loadConnectorConfig,
        serve: (cfg) => {
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
      },
    ),
};
