import { commands } from "./commands/index.js";
import { runCommand } from "./commands/run-command.js";

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `xbus — secure data exchange bus\n\nUsage: xbus <command> [options]\n\n${lines.join("\n")}\n\nRun \`xbus <command> --help\` for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`xbus: unknown command ${JSON.stringify(name)}\n\n${usage()}\n`);
    return 2;
  }
  return runCommand(command, rest);
}

// A reader that stops early (`xbus log query | head`) closes the pipe: drop the rest of the output
// quietly, as Unix tools do, instead of dying on an unhandled EPIPE. The command still runs to its end,
// so a server it started is stopped as usual.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.stdout.write = (() => true) as typeof process.stdout.write;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`xbus: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
