import type { Logger } from "../../core/index.js";
import type { Telemetry } from "../../core/telemetry/index.js";

/**
 * The life of a server command (`xbus broker`, `xbus connector`): start, print
 * one line when ready, run until SIGINT or SIGTERM, close gracefully, exit 0.
 * A start that fails exits 1 with one line naming the reason. A signal before
 * ready (NATS may be down and waited for) exits at once, as does a second one
 * while closing: the operator does not want to wait.
 */
export async function serveUntilSignal<T extends { close(): Promise<void> }>(o: {
  /** `xbus connector`: starts every line printed. */
  command: string;
  logger: Logger;
  telemetry: Telemetry;
  start: () => Promise<T>;
  ready: (running: T) => string;
}): Promise<number> {
  let running: T | undefined;
  let stopping = false;
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (running === undefined || stopping) {
      process.stderr.write(
        `${o.command}: ${signal}, exiting ${stopping ? "without waiting" : "before ready"}\n`,
      );
      process.exit(stopping ? 130 : 0);
    }
    stopping = true;
    stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    running = await o.start();
    process.stdout.write(`${o.command}: ${o.ready(running)}\n`);
    await stopped;
    o.logger.info({}, "stopping: letting requests in flight finish");
    await running.close();
    return 0;
  } catch (err) {
    // One line, whatever the error: a policy bundle's problems come one per line.
    const why = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, "; ");
    process.stderr.write(`${o.command}: ${why}\n`);
    return 1;
  } finally {
    await o.telemetry.shutdown();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
