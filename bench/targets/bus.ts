import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startStack } from "../../cli/dev/stack.js";
import { createLogger } from "../../core/logger.js";
import { benchAgency } from "../agency.js";
import { serveTarget } from "./child.js";

/**
 * The bus as `xbus dev` and the tests run it (cli/dev/stack.ts: its own
 * nats-server, certificates, broker, connector, adapter, and whatever the
 * stack adds by default — recorder, log, tracing), with the bench's agency and
 * policy bundle. argv[2] = "bridged" (adapter behind gRPC) or "in-process"
 * (SDK adapter inside the connector). The broker, connector and adapter share
 * this process, so its RSS is theirs together.
 */
const mode = process.argv[2];
if (mode !== "bridged" && mode !== "in-process") {
  process.stderr.write(`bench bus target: mode must be bridged or in-process, got ${mode}\n`);
  process.exit(2);
}

export const BENCH_POLICIES = resolve(import.meta.dirname, "../policies");

serveTarget(async () => {
  const dir = mkdtempSync(join(tmpdir(), "xbus-bench-"));
  // Warnings and errors only: a bench that fails should say why, but per-exchange info lines are not the bus's job here.
  const logger = createLogger({ bench: mode }, "warn");
  try {
    const stack = await startStack({
      dir,
      logger,
      inProcessAdapter: mode === "in-process",
      agencies: () => [benchAgency()],
      policiesDir: BENCH_POLICIES,
    });
    return {
      target: {
        address: stack.brokerAddress,
        method: "/xbus.v1.Exchange/Fetch",
        tls: { ca: stack.ca.certPem, cert: stack.consumer.cert, key: stack.consumer.key },
      },
      async close() {
        await stack.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
});
