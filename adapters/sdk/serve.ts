import { Server, ServerCredentials } from "@grpc/grpc-js";
import { parseWorkloadId, spiffeIdsFromSubjectAltName } from "../../core/contract/index.js";
import { createLogger, type Logger, XbusError } from "../../core/index.js";
import { serviceDefinition, serviceImplementation } from "../../core/rpc/index.js";
import type { Telemetry } from "../../core/telemetry/index.js";
import { type AuthCall, peerCertificateOf } from "../../core/tls/index.js";
import { Adapter } from "../../proto/gen/xbus/v1/adapter_pb.js";
import { type AdapterDefinition, adapterHandlers } from "./adapter.js";

export interface ServeAdapterOptions {
  /** host:port; port 0 picks a free one. Default `localhost:0`. */
  listen?: string;
  tls: { ca: string; cert: string; key: string };
  /** Only connectors of this agency in this trust domain may call. */
  trustDomain: string;
  logger?: Logger;
  /** Spans for each fetch, continuing the connector's `traceparent` metadata; none when absent. */
  telemetry?: Telemetry;
}

export interface AdapterServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves an adapter as `xbus.v1.Adapter` over mutual TLS. Callers must hold a
 * federation certificate of a connector of the same agency: the adapter
 * trusts the connector to have checked the broker's signature and policy.
 */
export async function serveAdapter(
  def: AdapterDefinition,
  options: ServeAdapterOptions,
): Promise<AdapterServer> {
  const logger = options.logger ?? createLogger({ component: "adapter", agency: def.agency });
  const handlers = adapterHandlers(def, { telemetry: options.telemetry });
  const server = new Server({ "grpc.max_receive_message_length": 64 * 1024 });
  const checkCaller = (call: AuthCall) => {
    const ids = spiffeIdsFromSubjectAltName(peerCertificateOf(call)?.subjectaltname);
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
          const d = call.getDeadline();
          const ms = d instanceof Date ? d.getTime() : d;
          if (!Number.isFinite(ms))
            throw new XbusError("INVALID_REQUEST", "a deadline is required", { field: "deadline" });
          const tp = call.metadata.get("traceparent")[0];
          return handlers.fetch(req, {
            deadline: new Date(ms),
            logger,
            traceparent: typeof tp === "string" && tp.length <= 55 ? tp : undefined,
          });
        },
      },
      (err, method) => logger.error({ method, err }, "unexpected error"),
    ),
  );
  const creds = ServerCredentials.createSsl(
    Buffer.from(options.tls.ca),
    [{ cert_chain: Buffer.from(options.tls.cert), private_key: Buffer.from(options.tls.key) }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.listen ?? "localhost:0", creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  logger.info({ port }, "adapter listening");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 5000).unref();
      }),
  };
}
