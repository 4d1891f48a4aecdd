import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import { logRenewal } from "../../certs/index.js";
import { Catalogue } from "../../core/contract/index.js";
import type { Logger } from "../../core/index.js";
import {
  connectOrWait,
  type NatsTlsInForce,
  natsClientOptions,
  natsTlsInForce,
  watchConnectivity,
} from "../../core/nats/index.js";
import {
  countNatsReconnects,
  type MetricsServer,
  serveMetrics,
  type Telemetry,
} from "../../core/telemetry/index.js";
import { watchTlsFiles } from "../../core/tls/index.js";
import { createPolicyStore } from "../../policies/index.js";
import { startBrokerServices } from "../../stack/index.js";
import type { BrokerConfig } from "./config.js";

/** The broker in a process of its own, as `xbus broker` runs it. */
export interface BrokerProcess {
  /** host:port the Exchange front door listens on (the port resolved when 0 was asked). */
  readonly exchange: string;
  /** The in-process log service's review API; undefined when a log service runs elsewhere. */
  readonly reviewUrl: string | undefined;
  /** `/metrics`, `/healthz`, `/readyz` with `metrics.port`. */
  readonly metricsUrl: string | undefined;
  /** Stops the front door (calls in flight finish), the review API and the indexer, then drains NATS. */
  close(): Promise<void>;
}

export async function startBrokerProcess(
  cfg: BrokerConfig,
  o: { logger: Logger; telemetry: Telemetry },
): Promise<BrokerProcess> {
  const { logger, telemetry } = o;
  const catalogue = Catalogue.load();
  // Throws with file, line and reason when the bundle does not check: a broker does not start without one.
  const policy = createPolicyStore({
    dir: cfg.policiesDir,
    catalogue,
    trustDomain: cfg.trustDomain,
    logger: logger.child({ component: "policy" }),
  });
  // On NATS the broker presents the set checked at start, then each renewal its TLS watchers take: never
  // what the files hold at a reconnect.
  const natsTls = natsTlsInForce(cfg.tls);
  const natsOptions = (name: string, tls?: NatsTlsInForce) =>
    natsClientOptions({
      servers: cfg.servers,
      name,
      ...(tls ? { tls } : {}),
      // nats.js otherwise builds two stack-traced errors for every request (README, "Performance").
      extra: { noAsyncTraces: true },
    });
  let nc: NatsConnection | undefined;
  try {
    nc = await connectTakingRenewals({
      cfg,
      options: natsOptions(`xbus-broker-${cfg.brokerId}`, natsTls),
      natsTls,
      logger,
    });
    countNatsReconnects(nc, telemetry.metrics, "broker");
    // The front door starts with the set in force now, a renewal taken during the wait included.
    const tls = natsTls.current();
    const services = await startBrokerServices({
      nats: nc,
      natsTls,
      // The indexer's identity (an in-process log service) is natsTls too, handed to its worker apart from these.
      indexerNatsOptions: natsOptions(`xbus-indexer-${cfg.brokerId}`),
      tls,
      tlsFiles: cfg.tlsFiles,
      // A renewal written over tls.* is taken only if `xbus broker` would start with it.
      checkTls: (pem) => cfg.checkTls(pem),
      ...(cfg.crlPath !== undefined ? { crlPath: cfg.crlPath } : {}),
      listen: cfg.listen,
      replicas: cfg.replicas,
      catalogue,
      policy,
      rates: cfg.rates,
      trustDomain: cfg.trustDomain,
      brokerId: cfg.brokerId,
      signingKey: cfg.signingKey,
      ...(cfg.allowUnsignedReplies ? { allowUnsignedReplies: true } : {}),
      log: cfg.log,
      ...(cfg.logService && {
        logService: {
          logKey: cfg.logService.logKey,
          indexPath: cfg.logService.indexPath,
          review: { ...cfg.logService.review, traceUrlTemplate: process.env.XBUS_TRACE_URL },
          ...(cfg.logService.witnessing && { witnessing: cfg.logService.witnessing }),
        },
      }),
      ...(cfg.logLimits !== undefined ? { logLimits: cfg.logLimits } : {}),
      logger,
      telemetry,
    });
    // The front door watches the files from its start; what they took on since the wait ended is taken now.
    services.broker.reloadTls();
    const conn = nc;
    const connectivity = watchConnectivity(conn);
    let metrics: MetricsServer | undefined;
    if (cfg.metrics)
      metrics = await serveMetrics(telemetry, {
        hostname: cfg.metrics.host,
        port: cfg.metrics.port,
        ready: () => ({ nats: { ok: connectivity.up, detail: conn.getServer() } }),
      }).catch(async (err: unknown) => {
        await services.close();
        throw err;
      });
    const host = cfg.listen.slice(0, cfg.listen.lastIndexOf(":"));
    const connection = nc;
    return {
      exchange: `${host}:${services.broker.port}`,
      reviewUrl: services.reviewUrl,
      metricsUrl: metrics?.url,
      async close() {
        await metrics?.close();
        await services.close();
        await connection.drain().catch((err: unknown) => logger.warn({ err }, "NATS drain failed"));
        policy.close();
      },
    };
  } catch (err) {
    await nc?.close();
    policy.close();
    throw err;
  }
}

/**
 * connectOrWait, the broker's TLS files watched meanwhile: a renewal written
 * while NATS is waited for that passes the start-up checks is put in force
 * for NATS at once, so that the connection made when NATS comes up presents
 * it (after a long outage the certificate read at start may have expired),
 * and the front door then starts with it. Logged once, here; a set refused
 * is one warning naming the file, as later.
 */
async function connectTakingRenewals(o: {
  cfg: BrokerConfig;
  /** The broker's connection, presenting natsTls. */
  options: ConnectionOptions;
  natsTls: NatsTlsInForce;
  logger: Logger;
}): Promise<NatsConnection> {
  const { cfg, natsTls, logger } = o;
  const tlsLog = logger.child({ part: "tls" });
  const watcher = watchTlsFiles({
    paths: cfg.tlsFiles,
    current: natsTls.current(),
    logger: tlsLog,
    check: (pem) => cfg.checkTls(pem),
    onChange: (pem) => {
      natsTls.renew(pem);
      logRenewal(tlsLog, {
        spiffeId: cfg.spiffeId,
        certPem: pem.cert,
        uses: "the NATS connection being waited for presents them, the front door starts with them",
      });
    },
  });
  try {
    // What changed since the files were read at start, before the first dial.
    watcher.reload();
    return await connectOrWait(o.options, (err) =>
      logger.warn({ servers: cfg.servers, err }, "NATS is not reachable yet; waiting for it"),
    );
  } finally {
    watcher.close();
  }
}
