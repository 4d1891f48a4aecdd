import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../core/index.js";
import { connectOrWait, natsClientOptions, natsTlsInForce } from "../../core/nats/index.js";
import { countNatsReconnects, serveMetrics, type Telemetry } from "../../core/telemetry/index.js";
import { type LogService, startLogService } from "../../stack/index.js";
import type { LogServeConfig } from "./serve-config.js";

/** `xbus log serve` in its process: NATS as its identity, then the log service (stack/log-service.ts). */
export async function startLogServeProcess(
  cfg: LogServeConfig,
  o: { logger: Logger; telemetry: Telemetry },
): Promise<LogService & { metricsUrl: string | undefined }> {
  const { logger, telemetry } = o;
  const natsTls = natsTlsInForce(cfg.tls);
  const options = (name: string, withTls: boolean) =>
    natsClientOptions({ servers: cfg.servers, name, ...(withTls ? { tls: natsTls } : {}) });
  const nc: NatsConnection = await connectOrWait(options("xbus-log-service", true), (err) =>
    logger.warn({ servers: cfg.servers, err }, "NATS is not reachable yet; waiting for it"),
  );
  countNatsReconnects(nc, telemetry.metrics, "log-service");
  try {
    const service = await startLogService({
      nats: nc,
      natsTls,
      indexerNatsOptions: options("xbus-log-indexer", false),
      logId: cfg.logId,
      logSecret: cfg.logSecret,
      logKey: cfg.logKey,
      indexPath: cfg.indexPath,
      ...(cfg.leaseMs !== undefined && { signer: { leaseMs: cfg.leaseMs } }),
      ...(cfg.witnessing && { witnessing: cfg.witnessing }),
      review: { ...cfg.review, traceUrlTemplate: process.env.XBUS_TRACE_URL },
      logger,
      telemetry,
    });
    const metrics = cfg.metrics
      ? await serveMetrics(telemetry, {
          hostname: cfg.metrics.host,
          port: cfg.metrics.port,
          ready: () => ({
            nats: { ok: !nc.isClosed() },
            signer: { ok: service.indexer.halted() === undefined },
          }),
        }).catch(async (err: unknown) => {
          await service.close();
          throw err;
        })
      : undefined;
    return {
      ...service,
      metricsUrl: metrics?.url,
      async close() {
        await metrics?.close();
        await service.close();
        await nc.drain().catch((err: unknown) => logger.warn({ err }, "NATS drain failed"));
      },
    };
  } catch (err) {
    await nc.close();
    throw err;
  }
}
