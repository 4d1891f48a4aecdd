import type { NatsConnection } from "@nats-io/transport-node";
import {
  type Connector,
  connectorNatsOptions,
  grpcTarget,
  startConnector,
} from "../../adapters/connector/index.js";
import { logCertificateExpiry } from "../../certs/index.js";
import type { Logger } from "../../core/logger.js";
import { connectOrWait, natsClientOptions } from "../../core/nats-client.js";
import { watchConnectivity } from "../../core/nats-connectivity.js";
import { agencySubjects } from "../../core/nats-subjects.js";
import { createReplySigner } from "../../core/reply-signature.js";
import {
  countNatsReconnects,
  type MetricsServer,
  serveMetrics,
  type Telemetry,
} from "../../core/telemetry/index.js";
import type { ConnectorConfig } from "./config.js";

/** One agency's connector in a process of its own, as `xbus connector` runs it. */
export interface ConnectorProcess {
  /** The NATS subjects it serves, `xbus.svc.<agency>.*`. */
  readonly subjects: string;
  /** `http://HOST:PORT/metrics` when the config asked for a metrics port. */
  readonly metricsUrl: string | undefined;
  /** Stops taking requests, lets the ones in flight answer, then drains NATS. */
  close(): Promise<void>;
}

/**
 * Connects to NATS with the connector's certificate files, starts the
 * connector against the agency's adapter over mutual TLS, and serves metrics
 * when asked. Resolves once the connector's subscription is on the server.
 */
export async function startConnectorProcess(
  cfg: ConnectorConfig,
  o: { logger: Logger; telemetry: Telemetry },
): Promise<ConnectorProcess> {
  const { logger, telemetry } = o;
  logCertificateExpiry(logger, cfg.certPem);
  telemetry.metrics.watchCertificate(`connector-${cfg.agency}`, () => cfg.certNotAfter);
  const signer = createReplySigner(cfg.certPem, cfg.key);
  const nc = await connectNats(cfg, logger);
  countNatsReconnects(nc, telemetry.metrics, `connector-${cfg.agency}`);
  const connectivity = watchConnectivity(nc);
  let connector: Connector | undefined;
  let metrics: MetricsServer | undefined;
  try {
    connector = startConnector({
      nats: nc,
      agency: cfg.agency,
      target: grpcTarget(cfg.adapter),
      brokerKeys: cfg.brokerKeys,
      signer,
      ...(cfg.maxInFlight !== undefined ? { maxInFlight: cfg.maxInFlight } : {}),
      logger,
      telemetry,
    });
    // The subscription is on the server: from here the broker can route to this connector.
    await nc.flush();
    if (cfg.metrics)
      metrics = await serveMetrics(telemetry, {
        hostname: cfg.metrics.host,
        port: cfg.metrics.port,
        ready: () => ({ nats: { ok: connectivity.up, detail: nc.getServer() } }),
      });
  } catch (err) {
    await connector?.close();
    await nc.close();
    throw err;
  }
  const running = connector;
  return {
    subjects: agencySubjects(cfg.agency),
    metricsUrl: metrics?.url,
    async close() {
      await running.close();
      // Drain sends the replies of the requests that just finished before the connection closes.
      await nc.drain().catch((err: unknown) => logger.warn({ err }, "NATS drain failed"));
      await metrics?.close();
    },
  };
}

async function connectNats(cfg: ConnectorConfig, logger: Logger): Promise<NatsConnection> {
  const options = natsClientOptions({
    servers: cfg.servers,
    tls: cfg.tlsFiles,
    extra: connectorNatsOptions(cfg.agency, cfg.name),
  });
  return connectOrWait(options, (err) =>
    logger.warn(
      { servers: cfg.servers, err },
      "NATS is not reachable yet; waiting for it (the connector serves once connected)",
    ),
  );
}
