import { ensureBuilt } from "../../bin/ensure-built.js";
import { osPackagesProblem } from "../../scripts/os-packages.mjs";

/**
 * Vitest's global setup. First, what the OS must provide (nats-server, Chromium, …; scripts/os-packages.mjs)
 * is checked once: a missing package stops the run here, in one line naming the command that installs it,
 * instead of as a failure in every suite that needs it. Then dist/ is built once before the suites start,
 * since the tests run `bin/xbus.js`, which runs the compiled CLI. Two suites spawning xbus at once would
 * otherwise both find dist/ stale (the lock makes the second wait, but its output would carry the build's
 * progress lines).
 */
export default function setup(): void {
  const problem = osPackagesProblem();
  if (problem) throw new Error(problem);
  ensureBuilt({ quiet: true });
}
