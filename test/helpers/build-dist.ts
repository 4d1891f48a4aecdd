import { ensureBuilt } from "../../bin/ensure-built.js";

/**
 * Vitest's global setup: builds dist/ once before the suites start, since the
 * tests run `bin/xbus.js`, which runs the compiled CLI. Two suites spawning
 * xbus at once would otherwise both find dist/ stale (the lock makes the
 * second wait, but its output would carry the build's progress lines).
 */
export default function setup(): void {
  ensureBuilt({ quiet: true });
}
