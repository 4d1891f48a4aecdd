import { runXbus } from "./commands/run-command.js";

// A reader that stops early (`xbus log query | head`) closes the pipe: drop the rest of the output
// quietly, as Unix tools do, instead of dying on an unhandled EPIPE. The command still runs to its end,
// so a server it started is stopped as usual.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.stdout.write = (() => true) as typeof process.stdout.write;
});

runXbus(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`xbus: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
