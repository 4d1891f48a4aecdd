#!/usr/bin/env node
// `xbus` runs the compiled CLI (dist/cli/main.js), never TypeScript through a loader: a broker for
// government data runs the JavaScript that was built and can be inspected. In a checkout, dist/ is
// built first when it is missing or older than the sources (bin/ensure-built.js).
import { ensureBuilt } from "./ensure-built.js";

try {
  ensureBuilt();
} catch (err) {
  process.stderr.write(`xbus: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
await import("../dist/cli/main.js");
