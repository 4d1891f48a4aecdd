import { Command } from "commander";
import { createLogger } from "../../core/index.js";
import { createTelemetry } from "../../core/telemetry/index.js";
import { startWitnessService } from "../../stack/index.js";
import { DEFAULT_WITNESS_LISTEN, loadWitnessConfig, WITNESS_SETTINGS } from "../witness/witness-config.js";
import type { XbusCommand } from "./command.js";
import { serveUntilSignal } from "./serve-until-signal.js";
import { type FlagsHelp, settingsCommand } from "./settings-flags.js";

const FLAGS: FlagsHelp<typeof WITNESS_SETTINGS> = {
  name: { value: "name", description: "the witness's key name, e.g. witness.audit.gov.bt" },
  state: {
    value: "dir",
    description: "its state folder: its Ed25519 key (made on first start, 0600) and what it cosigned",
  },
  log: {
    value: "vkey",
    description: "a log it cosigns, by the log's verifier key (`xbus log checkpoint` prints it)",
    repeatable: true,
  },
  listen: { value: "host:port", description: `where it listens, default ${DEFAULT_WITNESS_LISTEN}` },
  "tls-cert": { value: "file", description: "serve HTTPS with this certificate, PEM (with --tls-key)" },
  "tls-key": { value: "file", description: "its key, PEM" },
};

/** `xbus witness`: a C2SP tlog-witness in its own process (README, "Witnessing"). */
export const witnessCommand: XbusCommand = {
  name: "witness",
  create: (run) =>
    settingsCommand(
      run,
      new Command("witness")
        .summary(
          "run a witness: cosign the log's checkpoints while each extends the last (C2SP tlog-witness)",
        )
        .description(
          "Runs a C2SP tlog-witness over HTTP: POST /add-checkpoint cosigns a log's checkpoint only if its " +
            "signature verifies with the log's vkey and a consistency proof shows it extends the last one " +
            "this witness cosigned (404 unknown log, 403 bad signature, 409 with the size it holds, 422 bad " +
            "proof or fork); GET /<sha256 of the origin>/checkpoint serves the latest cosigned one. Its key " +
            "and state live in the state folder, and a restart keeps them. Prints its vkey (for the log's " +
            "tlog-policy) when ready; stays up until SIGINT/SIGTERM. Logs: JSON lines on stderr.",
        ),
      {
        spec: WITNESS_SETTINGS,
        help: FLAGS,
        readme: "Witnessing",
        load: loadWitnessConfig,
        serve: (cfg) => {
          const logger = createLogger({ component: "witness" });
          const telemetry = createTelemetry({ serviceName: "xbus-witness" });
          return serveUntilSignal({
            command: "xbus witness",
            logger,
            telemetry,
            start: () =>
              startWitnessService({
                name: cfg.name,
                stateDir: cfg.stateDir,
                logVkeys: [...cfg.logs.values()],
                hostname: cfg.hostname,
                port: cfg.port,
                ...(cfg.tls && { tls: cfg.tls }),
                logger,
              }),
            ready: (w) => `ready at ${w.url}, logs ${w.origins.join(", ")}\nvkey ${w.vkey}`,
          });
        },
      },
    ),
};
