import { parseArgs } from "node:util";
import { runDev } from "./dev/dev.js";

const USAGE = `xbus — secure data exchange bus

Usage:
  xbus dev [--smoke] [--dir DIR]   run the whole bus on this machine (nats-server, certificates,
                                   broker, connector, adapter); --smoke does one exchange and exits

Run \`xbus <command> --help\` for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "dev": {
      const { values } = parseArgs({
        args: rest,
        options: {
          smoke: { type: "boolean", default: false },
          dir: { type: "string" },
          help: { type: "boolean" },
        },
        strict: true,
      });
      if (values.help) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
      }
      return runDev({ smoke: values.smoke ?? false, ...(values.dir ? { dir: values.dir } : {}) });
    }
    case "bench":
      process.stdout.write("xbus bench: not yet — the benchmark is its own issue (bus vs bare chain).\n");
      return 0;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`xbus: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`xbus: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
