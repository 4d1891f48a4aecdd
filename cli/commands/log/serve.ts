import { Command } from "commander";
import { createLogger } from "../../../core/index.js";
import { createTelemetry } from "../../../core/telemetry/index.js";
import { LOG_SERVE_SETTINGS, loadLogServeConfig } from "../../log/serve-config.js";
import { startLogServeProcess } from "../../log/serve-run.js";
import type { Run } from "../command.js";
import { serveUntilSignal } from "../serve-until-signal.js";
import { type FlagsHelp, settingsCommand } from "../settings-flags.js";

const FLAGS: FlagsHelp<typeof LOG_SERVE_SETTINGS> = {
  "trust-domain": { value: "td", description: "the federation's trust domain" },
  nats: { value: "url", description: "a NATS server", repeatable: true },
  ca: { value: "file", description: "the federation's trust bundle, PEM" },
  cert: {
    value: "file",
    description: "the service's NATS certificate, PEM (a broker-role certificate today)",
  },
  key: { value: "file", description: "its key, PEM" },
  index: { value: "file", description: "the SQLite index this instance writes (its folder must exist)" },
  "review-listen": { value: "host:port", description: "the review API" },
  "review-token-hashes": { value: "file", description: "SHA-256 hex of each reviewer token, one a line" },
  "alerts-time-zone": {
    value: "zone",
    description: "IANA zone of office hours for off-hours alerts, default UTC",
  },
  "metrics-port": {
    value: "port",
    description: "serve /metrics, /healthz and /readyz on this port (127.0.0.1 unless metrics.host)",
  },
  "lease-ms": {
    value: "ms",
    description: "how long the signer's lease lasts unrenewed before a standby signs, default 3000",
  },
  "witness-policy": {
    value: "file",
    description:
      "a C2SP tlog-policy: push checkpoints to its witnesses (lines with a URL), serve the one its quorum cosigned",
  },
};

/** `xbus log serve`: the log service in its own process (README, "Log service"). */
export const serveCommand = (run: Run): Command =>
  settingsCommand(
    run,
    new Command("serve")
      .summary("run the log service (index, tree-head signer, review API) until SIGTERM")
      .description(
        "Runs the log service: follows the XBUS_LOG stream into this instance's SQLite index, signs tree " +
          "heads with the log key through the KV lock (one signer at a time; a head is published only if it " +
          "extends the last one), and serves the review API. Start two: the standby serves reads and signs " +
          "once the active one's lease lapses. Every setting is checked before anything starts; a flag " +
          "overrides the file's setting. Stays up until SIGINT/SIGTERM. Logs: JSON lines on stderr.",
      ),
    {
      spec: LOG_SERVE_SETTINGS,
      help: FLAGS,
      readme: "Log service",
      load: loadLogServeConfig,
      serve: (cfg) => {
        const logger = createLogger({ component: "log-service" });
        const telemetry = createTelemetry({ serviceName: "xbus-log-service" });
        return serveUntilSignal({
          command: "xbus log serve",
          logger,
          telemetry,
          start: () => startLogServeProcess(cfg, { logger, telemetry }),
          ready: (s) =>
            `ready as ${cfg.spiffeId}: review API ${s.reviewUrl}, log ${cfg.logId}, index ${cfg.indexPath}${s.metricsUrl ? `, metrics ${s.metricsUrl}` : ""}`,
        });
      },
    },
  );
