import { createLogger } from "../../core/index.js";
import { createTelemetry } from "../../core/telemetry/index.js";
import { BROKER_SETTINGS, loadBrokerConfig } from "../broker/config.js";
import { type BrokerProcess, startBrokerProcess } from "../broker/run.js";
import { commandSettings } from "../config/settings.js";
import type { Command } from "./command.js";
import { serveUntilSignal } from "./serve-until-signal.js";

const HELP = `xbus broker --config FILE [options]

Runs the broker: xbus.v1.Exchange and xbus.v1.Consent over mutual TLS, routing over NATS, the
exchange log (JetStream stream, indexer, SQLite index) and the review API. Stays up until
SIGINT/SIGTERM, then lets the calls in flight finish and exits 0. Every setting is checked before
anything starts.

  --config FILE                 JSON settings (see README "Running a broker"); paths in it are
                                relative to the file
Settings that can also be given (or overridden) as flags:
  --trust-domain TD             the federation's trust domain (trust_domain)
  --broker-id ID                default: the name in the broker's SPIFFE ID (broker_id)
  --listen HOST:PORT            xbus.v1.Exchange and xbus.v1.Consent (listen)
  --nats URL                    a NATS server, repeatable (nats)
  --ca, --cert, --key FILE      trust bundle, the broker's certificate and key, PEM, watched: a
                                renewal is taken if it passes the same checks and keeps the
                                broker's SPIFFE ID (tls.*)
  --crl FILE                    the federation CRL, PEM, watched (crl)
  --signing-key FILE            Ed25519 private key that signs routes and receipts, PEM (signing_key)
  --policies DIR                the policy bundle, watched (policies)
  --review-listen HOST:PORT     the review API (review.listen)
  --review-token-hashes FILE    SHA-256 hex of each reviewer token, one a line (review.token_hashes)
  --alerts-time-zone ZONE       IANA zone of office hours for off-hours alerts, default UTC (review.alerts_time_zone)
The log's settings (log.id, log.secret, log.key, log.index) are in the file only.

Logs: JSON lines on stderr, level from XBUS_LOG_LEVEL. Traces: OTEL_* variables; XBUS_TRACE_URL.`;

export const brokerCommand: Command = {
  name: "broker",
  summary: "run the broker (front door, routing, exchange log, review API) until SIGTERM",
  async run(args) {
    const parsed = commandSettings({
      command: "xbus broker",
      args,
      help: HELP,
      spec: BROKER_SETTINGS,
      repeatable: ["nats"],
      load: loadBrokerConfig,
    });
    if ("exit" in parsed) return parsed.exit;
    const cfg = parsed.settings;
    const logger = createLogger({ component: "broker", broker_id: cfg.brokerId });
    const telemetry = createTelemetry({ serviceName: `xbus-broker-${cfg.brokerId}` });
    return serveUntilSignal<BrokerProcess>({
      command: "xbus broker",
      logger,
      telemetry,
      start: () => startBrokerProcess(cfg, { logger, telemetry }),
      ready: (b) =>
        `ready as ${cfg.spiffeId}: Exchange on ${b.exchange}, review API ${b.reviewUrl}, log ${cfg.log.logId}`,
    });
  },
};
