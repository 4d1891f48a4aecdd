import type { KeyObject } from "node:crypto";
import { Server } from "@grpc/grpc-js";
import { type CrlWatcher, watchCrl } from "../../certs/index.js";
import { parseWorkloadId, spiffeIdsFromSubjectAltName } from "../../core/contract/index.js";
import { createLogger, type Logger, XbusError } from "../../core/index.js";
import { receivedBytes, serviceDefinition, serviceImplementation } from "../../core/rpc/index.js";
import type { Telemetry } from "../../core/telemetry/index.js";
import {
  type AuthCall,
  peerCertificateOf,
  ReloadableServerCredentials,
  type TlsFilePaths,
  type TlsFilesWatcher,
  watchTlsFiles,
} from "../../core/tls/index.js";
import { Adapter } from "../../proto/gen/xbus/v1/adapter_pb.js";
import { type AdapterDefinition, adapterHandlers } from "./adapter.js";
import { createRouteCheck } from "./route-check.js";

export interface ServeAdapterOptions {
  /** host:port; port 0 picks a free one. Default `localhost:0`. */
  listen?: string;
  tls: { ca: string; cert: string; key: string };
  /**
   * Where `tls` came from on disk: a renewed certificate and key, or a new trust bundle, written there is
   * taken up for new connections without a restart (as the broker does; a set whose key does not match
   * is refused and the one in force stays).
   */
  tlsFiles?: TlsFilePaths;
  /**
   * The federation CRL (PEM), watched: a connector certificate revoked there fails the handshake on new
   * connections and gets CERT_REVOKED on open ones, from the next reload on (polled every 500 ms).
   */
  crlPath?: string;
  /** Only connectors of this agency in this trust domain may call. */
  trustDomain: string;
  /**
   * The broker's route-signing public keys (Ed25519), as the connector lists them: each Fetch must carry
   * the broker's route for it (route-check.ts), so a connector's key alone reaches no record.
   */
  brokerKeys: readonly KeyObject[];
  logger?: Logger;
  /** Spans for each fetch, continuing the connector's `traceparent` metadata; none when absent. */
  telemetry?: Telemetry;
}

export interface AdapterServer {
  readonly port: number;
  /** Re-reads the CRL now instead of at the next poll; true if it changed what is in force. */
  reloadCrl(): boolean;
  /** Re-reads `tlsFiles` now; true if new ones are in force. */
  reloadTls(): boolean;
  close(): Promise<void>;
}

/**
 * Serves an adapter as `xbus.v1.Adapter` over mutual TLS. A call must come
 * from a federation certificate, not revoked, of a connector of the same
 * agency, and a Fetch must carry the broker's signed route for that very
 * request: neither a connector's key alone nor a route alone reaches a record.
 */
export async function serveAdapter(
  def: AdapterDefinition,
  options: ServeAdapterOptions,
): Promise<AdapterServer> {
  const logger = options.logger ?? createLogger({ component: "adapter", agency: def.agency });
  const handlers = adapterHandlers(def, { telemetry: options.telemetry });
  const checkRoute = createRouteCheck(def.agency, options.brokerKeys);
  let tls = { ...options.tls };
  let creds: ReloadableServerCredentials | undefined;
  const tlsOptions = () => ({ ...tls, ...(crl ? { crl: [...crl.blocks] } : {}) });
  const crl: CrlWatcher | undefined = options.crlPath
    ? watchCrl({
        path: options.crlPath,
        caPem: () => tls.ca,
        logger: logger.child({ part: "crl" }),
        onChange: () => creds?.update(tlsOptions()),
      })
    : undefined;
  const server = new Server({ "grpc.max_receive_message_length": 64 * 1024 });
  const checkCaller = (call: AuthCall) => {
    const cert = peerCertificateOf(call);
    // TLS checked the CRL when the connection opened; a revocation since then is caught here.
    if (cert?.serialNumber && crl?.isRevoked(cert.serialNumber))
      throw new XbusError("CERT_REVOKED", "the client certificate is revoked");
    const ids = spiffeIdsFromSubjectAltName(cert?.subjectaltname);
    const id = ids.length === 1 ? parseWorkloadId(ids[0] as string) : undefined;
    if (!id || id.trustDomain !== options.trustDomain)
      throw new XbusError("NO_SPIFFE_ID", "a federation certificate is required");
    if (id.role !== "connector" || id.agency !== def.agency) {
      throw new XbusError("WRONG_ROLE", `only connectors of agency ${def.agency} may call this adapter`);
    }
  };
  server.addService(
    serviceDefinition(Adapter),
    serviceImplementation(
      Adapter,
      {
        describe: async (_req, call) => {
          checkCaller(call);
          return handlers.describe();
        },
        fetch: async (req, call) => {
          checkCaller(call);
          const body = receivedBytes(req);
          if (!body) throw new XbusError("INTERNAL", "the request's bytes were not kept");
          const routeDeadline = await checkRoute(req, body, call.metadata);
          const d = call.getDeadline();
          const ms = d instanceof Date ? d.getTime() : d;
          if (!Number.isFinite(ms))
            throw new XbusError("INVALID_REQUEST", "a deadline is required", { field: "deadline" });
          const tp = call.metadata.get("traceparent")[0];
          return handlers.fetch(req, {
            deadline: new Date(Math.min(ms, routeDeadline)),
            logger,
            traceparent: typeof tp === "string" && tp.length <= 55 ? tp : undefined,
          });
        },
      },
      (err, method) => logger.error({ method, err }, "unexpected error"),
    ),
  );
  try {
    creds = new ReloadableServerCredentials(tlsOptions());
  } catch (err) {
    crl?.close();
    throw err;
  }
  const serverCreds = creds;
  const tlsWatcher: TlsFilesWatcher | undefined = options.tlsFiles
    ? watchTlsFiles({
        paths: options.tlsFiles,
        current: tls,
        logger: logger.child({ part: "tls" }),
        onChange: (next) => {
          serverCreds.update({ ...next, ...(crl ? { crl: [...crl.blocks] } : {}) });
          tls = next;
        },
      })
    : undefined;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.listen ?? "localhost:0", serverCreds, (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  ).catch((err: unknown) => {
    crl?.close();
    tlsWatcher?.close();
    throw err;
  });
  logger.info({ port }, "adapter listening");
  return {
    port,
    reloadCrl: () => crl?.reload() ?? false,
    reloadTls: () => tlsWatcher?.reload() ?? false,
    close: () =>
      new Promise<void>((resolve) => {
        crl?.close();
        tlsWatcher?.close();
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 5000).unref();
      }),
  };
}
