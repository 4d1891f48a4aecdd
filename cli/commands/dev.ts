import { parseArgs } from "node:util";
import { runDev } from "../dev/dev.js";
import type { Command } from "./command.js";

const HELP = `xbus dev [--smoke] [--dir DIR] [--nats URL]

Runs the whole bus on this machine: a nats-server child with JetStream in a temp folder, a
federation CA and certificates, broker, connectors and the example adapters. Writes DIR/dev.json
(default .xbus/dev), does one exchange to show the path, and stays up until Ctrl-C.

  --smoke     do one exchange, print the record, stop everything and exit
  --dir DIR   where certificates and dev.json go (default .xbus/dev)
  --nats URL  use this nats-server (JetStream on) instead of spawning one; the exchange log's
              index, secret and key in DIR are then kept and resumed across restarts`;

export const devCommand: Command = {
  name: "dev",
  summary: "run the whole bus on this machine (--smoke: one exchange, then exit)",
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        smoke: { type: "boolean", default: false },
        dir: { type: "string" },
        nats: { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    return runDev({
      smoke: values.smoke ?? false,
      ...(values.dir ? { dir: values.dir } : {}),
      ...(values.nats ? { nats: values.nats } : {}),
    });
  },
};
