import type { NatsConnection } from "@nats-io/transport-node";
import {
  type Connector,
  connectorNatsOptions,
  grpcTarget,
  startConnector,
} from "../../adapters/connector/index.js";
import { logCertificateExpiry, logRenewal } from "../../certs/index.js";
import type { Logger } from "../../core/index.js";
import {
  agencySubjects,
  connectOrWait,
  type NatsTlsInForce,
  natsClientOptions,
  natsTlsInForce,
  watchConnectivity,
} from "../../core/nats/index.js";
import { createReplySigner } from "../../core/signing/index.js";
import {
  countNatsReconnects,
  type MetricsServer,
  serveMetrics,
  type Telemetry,
} from "../../core/telemetry/index.js";
import { watchTlsFiles } from "../../core/tls/index.js";
import type { ConnectorConfig, ConnectorIdentity } from "./config.js";

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
 * Connects to NATS with the connector's certificate as checked at start,
 * starts the connector against the agency's adapter over mutual TLS, and
 * serves metrics when asked. Resolves once the connector's subscription is on
 * the server. Watches tls.ca / tls.cert / tls.key from the start, NATS's wait
 * included: a renewal that passes the start-up checks (and keeps the
 * connector's SPIFFE ID) signs the next replies, opens a new adapter client
 * and is presented at the next NATS (re)connect, the one that ends the wait
 * too; one that does not is logged and the identity in force stays, on NATS
 * too.
 */
export async function startConnectorProcess(
  cfg: ConnectorConfig,
  o: { logger: Logger; telemetry: Telemetry },
): Promise<ConnectorProcess> {
  const { logger, telemetry } = o;
  logCertificateExpiry(logger, cfg.certPem);
  let inForce: ConnectorIdentity = {
    spiffeId: cfg.spiffeId,
    certPem: cfg.certPem,
    key: cfg.key,
    certNotAfter: cfg.certNotAfter,
    adapterTls: cfg.adapter.tls,
  };
  telemetry.metrics.watchCertificate(`connector-${cfg.agency}`, () => inForce.certNotAfter);
  const natsTls = natsTlsInForce(cfg.tlsPem);
  let connector: Connector | undefined;
  const tlsLog = logger.child({ part: "tls" });
  const tlsWatcher = watchTlsFiles({
    paths: { ca: cfg.tlsFiles.caFile, cert: cfg.tlsFiles.certFile, key: cfg.tlsFiles.keyFile },
    current: cfg.tlsPem,
    logger: tlsLog,
    // The start-up checks (role, agency, trust bundle, key) before OpenSSL's, for a reason naming the file.
    check: (pem) => void cfg.renewed(pem),
    onChange: (pem) => {
      const next = cfg.renewed(pem);
      // While NATS is waited for there is no connector yet: it starts with the identity in force then.
      if (connector) renew(connector, cfg, inForce, next, logger);
      inForce = next;
      natsTls.renew(pem);
      logRenewal(tlsLog, {
        spiffeId: next.spiffeId,
        certPem: next.certPem,
        uses: "new replies, adapter calls and NATS reconnects use them",
      });
    },
  });
  let nc: NatsConnection | undefined;
  let metrics: MetricsServer | undefined;
  try {
    // What changed since the files were read at start, before the first dial.
    tlsWatcher.reload();
    nc = await connectNats(cfg, natsTls, logger);
    countNatsReconnects(nc, telemetry.metrics, `connector-${cfg.agency}`);
    const connection = nc;
    const connectivity = watchConnectivity(connection);
    connector = startConnector({
      nats: connection,
      agency: cfg.agency,
      target: grpcTarget({ ...cfg.adapter, ...adapterOf(cfg), logger, tls: inForce.adapterTls }),
      brokerKeys: cfg.brokerKeys,
      signer: createReplySigner(inForce.certPem, inForce.key),
      ...(cfg.maxInFlight !== undefined ? { maxInFlight: cfg.maxInFlight } : {}),
      logger,
      telemetry,
    });
    // The subscription is on the server: from here the broker can route to this connector.
    await connection.flush();
    if (cfg.metrics)
      metrics = await serveMetrics(telemetry, {
        hostname: cfg.metrics.host,
        port: cfg.metrics.port,
        ready: () => ({ nats: { ok: connectivity.up, detail: connection.getServer() } }),
      });
  } catch (err) {
    tlsWatcher.close();
    await connector?.close();
    await nc?.close();
    throw err;
  }
  const running = connector;
  const connection = nc;
  return {
    subjects: agencySubjects(cfg.agency),
    metricsUrl: metrics?.url,
    async close() {
      tlsWatcher.close();
      await running.close();
      // Drain sends the replies of the requests that just finished before the connection closes.
      await connection.drain().catch((err: unknown) => logger.warn({ err }, "NATS drain failed"));
      await metrics?.close();
    },
  };
}

/**
 * Puts a renewed identity in force: a new signer when the certificate changed
 * (a new trust bundle alone keeps it), a new adapter client when what it
 * presents or trusts changed. Both are built before either is swapped in.
 */
function renew(
  connector: Connector,
  cfg: ConnectorConfig,
  was: ConnectorIdentity,
  next: ConnectorIdentity,
  logger: Logger,
): void {
  const signer = next.certPem === was.certPem ? undefined : createReplySigner(next.certPem, next.key);
  const a = next.adapterTls;
  const b = was.adapterTls;
  const target =
    a.ca === b.ca && a.cert === b.cert && a.key === b.key
      ? undefined
      : grpcTarget({ ...cfg.adapter, ...adapterOf(cfg), logger, tls: next.adapterTls });
  connector.renew({ ...(signer ? { signer } : {}), ...(target ? { target } : {}) });
}

/** Whom the adapter's certificate must name: an adapter of this connector's agency and trust domain. */
function adapterOf(cfg: ConnectorConfig): { agency: string; trustDomain: string } {
  return { agency: cfg.agency, trustDomain: cfg.trustDomain };
}

async function connectNats(
  cfg: ConnectorConfig,
  tls: NatsTlsInForce,
  logger: Logger,
): Promise<NatsConnection> {
  const options = natsClientOptions({
    servers: cfg.servers,
    tls,
    extra: connectorNatsOptions(cfg.agency, cfg.name),
  });
  return connectOrWait(options, (err) =>
    logger.warn(
      { servers: cfg.servers, err },
      "NATS is not reachable yet; waiting for it (the connector serves once connected)",
    ),
  );
}
