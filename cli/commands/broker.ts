import { Command } from "commander";
import { createLogger } from "../../core/index.js";
import { createTelemetry } from "../../core/telemetry/index.js";
import { BROKER_SETTINGS, loadBrokerConfig } from "../broker/config.js";
import { type BrokerProcess, startBrokerProcess } from "../broker/run.js";
import type { XbusCommand } from "./command.js";
import { serveUntilSignal } from "./serve-until-signal.js";
import { type FlagsHelp, settingsCommand } from "./settings-flags.js";

const FLAGS: FlagsHelp<typeof BROKER_SETTINGS> = {
  "trust-domain": { value: "td", description: "the federation's trust domain" },
  "broker-id": { value: "id", description: "default: the name in the broker's SPIFFE ID" },
  listen: { value: "host:port", description: "xbus.v1.Exchange and xbus.v1.Consent" },
  nats: { value: "url", description: "a NATS server", repeatable: true },
  replicas: {
    value: "n",
    description: "replicas XBUS_LOG and the consent bucket must have (3 on a cluster), default 1",
  },
  ca: { value: "file", description: "the federation's trust bundle, PEM, watched" },
  cert: {
    value: "file",
    description:
      "the broker's certificate, PEM, watched: a renewal is taken if it passes the start-up checks and keeps the broker's SPIFFE ID",
  },
  key: { value: "file", description: "the broker's key, PEM, watched with the certificate" },
  crl: { value: "file", description: "the federation CRL, PEM, watched" },
  "signing-key": { value: "file", description: "Ed25519 private key that signs routes and receipts, PEM" },
  policies: { value: "dir", description: "the policy bundle, watched" },
  rates: {
    value: "where",
    description:
      "grants' rates: federation (KV counters every broker shares, default) or broker (this one's memory)",
  },
  "log-max-bytes": { value: "n", description: "the log stream's max_bytes, default 1 GiB (1073741824)" },
  "log-retry-queue-bytes": {
    value: "n",
    description: "bound of the failed exchanges' records waiting for the log, default 64 MiB",
  },
  "review-listen": { value: "host:port", description: "the review API" },
  "review-token-hashes": { value: "file", description: "SHA-256 hex of each reviewer token, one a line" },
  "alerts-time-zone": {
    value: "zone",
    description: "IANA zone of office hours for off-hours alerts, default UTC",
  },
  "witness-policy": {
    value: "file",
    description:
      "with log.key: a C2SP tlog-policy; push checkpoints to its witnesses, serve the one its quorum cosigned",
  },
  "metrics-port": {
    value: "port",
    description: "serve /metrics, /healthz and /readyz on this port (127.0.0.1 unless metrics.host)",
  },
};

export const brokerCommand: XbusCommand = {
  name: "broker",
  create: (run) =>
    settingsCommand(
      run,
      new Command("broker")
        .summary("run the broker (front door, routing, exchange log, review API) until SIGTERM")
        .description(
          "Runs the broker: xbus.v1.Exchange and xbus.v1.Consent over mutual TLS, routing over NATS, the " +
            "exchange log (JetStream stream, indexer, SQLite index) and the review API. Every setting is " +
            "checked before anything starts; a flag overrides the file's setting. Stays up until " +
            "SIGINT/SIGTERM, then lets the calls in flight finish and exits 0. Logs: JSON lines on stderr, " +
            "level from XBUS_LOG_LEVEL. Traces: the OTEL_* variables; XBUS_TRACE_URL.",
        ),
      {
        spec: BROKER_SETTINGS,
        help: FLAGS,
        readme: "Running a broker",
        load: loadBrokerConfig,
        serve: (cfg) => {
          const logger = createLogger({ component: "broker", broker_id: cfg.brokerId });
          const telemetry = createTelemetry({ serviceName: `xbus-broker-${cfg.brokerId}` });
          return serveUntilSignal<BrokerProcess>({
            command: "xbus broker",
            logger,
            telemetry,
            start: () => startBrokerProcess(cfg, { logger, telemetry }),
            ready: (b) =>
              `ready as ${cfg.spiffeId}: Exchange on ${b.exchange}, ${b.reviewUrl ? `review API ${b.reviewUrl}` : "log service elsewhere"}, log ${cfg.log.logId}${b.metricsUrl ? `, metrics ${b.metricsUrl}` : ""}`,
          });
        },
      },
    ),
};
