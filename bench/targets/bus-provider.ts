import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import {
  connectorNatsOptions,
  grpcTarget,
  inProcessTarget,
  startConnector,
} from "../../adapters/connector/index.js";
import { type AdapterServer, serveAdapter } from "../../adapters/sdk/index.js";
import { createLogger } from "../../core/index.js";
import { natsClientOptions, natsTlsInForce } from "../../core/nats/index.js";
import { createReplySigner } from "../../core/signing/index.js";
import { createTelemetry } from "../../core/telemetry/index.js";
import { benchAgency } from "../agency.js";
import { serveProvider } from "./child.js";

/** Files the broker's process issued for the provider agency (stack/dev-stack.ts, connectors: "elsewhere"). */
export interface BusProviderConfig {
  mode: "bridged" | "in-process";
  natsUrl: string;
  trustDomain: string;
  caPath: string;
  /** Every broker's route-signing public key file (PEM). */
  brokerKeyPaths: string[];
  connector: { certPath: string; keyPath: string };
  /** The adapter's server certificate, bridged only. */
  adapter?: { certPath: string; keyPath: string };
}

/**
 * The provider agency's side of the bus in a process of its own (the bench's
 * split layout), wired as `xbus dev` wires it in one: the bench agency's
 * connector on NATS with its own certificate, and its adapter behind gRPC
 * with mutual TLS (bridged) or inside the connector (in-process). Telemetry
 * of its own, exporting to the same collector as the broker.
 */
serveProvider<BusProviderConfig>(async (c) => {
  const logger = createLogger({ bench: `provider-${c.mode}` }, "warn");
  const telemetry = createTelemetry({ serviceName: "xbus-connector-bench" });
  const def = benchAgency();
  const ca = readFileSync(c.caPath, "utf8");
  const cert = readFileSync(c.connector.certPath, "utf8");
  const key = readFileSync(c.connector.keyPath, "utf8");
  const brokerKeys = c.brokerKeyPaths.map((p) => createPublicKey(readFileSync(p)));
  let adapter: AdapterServer | undefined;
  if (c.mode === "bridged") {
    if (!c.adapter) throw new Error("bench provider: bridged needs the adapter's certificate");
    adapter = await serveAdapter(def, {
      tls: {
        ca,
        cert: readFileSync(c.adapter.certPath, "utf8"),
        key: readFileSync(c.adapter.keyPath, "utf8"),
      },
      trustDomain: c.trustDomain,
      brokerKeys,
      logger: logger.child({ component: "adapter" }),
      telemetry,
    });
  }
  const nc = await connect(
    natsClientOptions({
      servers: c.natsUrl,
      // As `xbus dev`'s connectors: the certificate as issued, never re-read from its files.
      tls: natsTlsInForce({ ca, cert, key }),
      extra: connectorNatsOptions(def.agency, "dev"),
    }),
  );
  const connector = startConnector({
    nats: nc,
    agency: def.agency,
    target: adapter
      ? grpcTarget({
          address: `localhost:${adapter.port}`,
          agency: def.agency,
          trustDomain: c.trustDomain,
          tls: { ca, cert, key },
        })
      : inProcessTarget(def, logger.child({ component: "adapter" }), telemetry),
    brokerKeys,
    signer: createReplySigner(cert, createPrivateKey(key)),
    logger: logger.child({ component: "connector" }),
    telemetry,
  });
  // The subscription is on the server: from here the broker can route to this connector.
  await nc.flush();
  return {
    async close() {
      await connector.close();
      await nc.close();
      await adapter?.close();
      await telemetry.shutdown();
    },
  };
});
