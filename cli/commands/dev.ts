import { Command } from "commander";
import { runDev } from "../dev/dev.js";
import { act, UsageError, type XbusCommand } from "./command.js";

interface DevFlags {
  smoke?: true;
  dir?: string;
  nats?: string;
  cluster?: true;
}

export const devCommand: XbusCommand = {
  name: "dev",
  create: (run) =>
    act<DevFlags>(
      run,
      new Command("dev")
        .summary("run the whole bus on this machine (--smoke: one exchange, then exit)")
        .description(
          "Runs the whole bus on this machine: a nats-server child with JetStream in a temp folder, a " +
            "federation CA and certificates, broker, connectors and the example adapters. Writes DIR/dev.json, " +
            "does one exchange to show the path, and stays up until Ctrl-C.",
        )
        .option("--smoke", "do one exchange, print the record, stop everything and exit")
        .option("--dir <dir>", "where certificates and dev.json go (default .xbus/dev)")
        .option(
          "--cluster",
          "the federation's topology instead: 3 core nats-servers (log at R3), a leaf nats-server per agency, " +
            "2 brokers, the log service and a standby",
        )
        .option(
          "--nats <url>",
          "use this nats-server (JetStream on) instead of spawning one; the exchange log's index, secret " +
            "and key in DIR are then kept and resumed across restarts",
        ),
      (o) => {
        if (o.cluster && o.nats)
          throw new UsageError("--cluster spawns its own nats-servers: leave out --nats");
        return runDev({
          smoke: o.smoke === true,
          ...(o.dir ? { dir: o.dir } : {}),
          ...(o.nats ? { nats: o.nats } : {}),
          ...(o.cluster ? { cluster: true } : {}),
        });
      },
    ),
};
