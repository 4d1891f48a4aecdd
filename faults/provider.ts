import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { connect } from "@nats-io/transport-node";
import {
  type AdapterTarget,
  connectorNatsOptions,
  inProcessTarget,
  startConnector,
} from "../adapters/connector/index.js";
import { createPopulation } from "../adapters/examples/population.js";
import { serveProvider } from "../bench/targets/child.js";
import { createLogger } from "../core/index.js";
import { natsClientOptions, natsTlsInForce } from "../core/nats/index.js";
import { createReplySigner } from "../core/signing/index.js";
import { createTelemetry } from "../core/telemetry/index.js";
import { exampleAgencies } from "../stack/index.js";
import type { AdapterFault, ProviderCommand, ProviderConfig, ProviderReply } from "./protocol.js";

/**
 * One connector of one example agency, in a process of its own so the harness
 * can SIGKILL it: the agency's example adapter runs inside it, behind a switch
 * that makes it hang, answer slowly or answer garbage on the harness's word.
 * Two of these per agency share the agency's queue group.
 */
let fault: AdapterFault = { kind: "none" };

function faulty(inner: AdapterTarget): AdapterTarget {
  return {
    async fetch(req, call) {
      const deadline = call.deadline;
      const f = fault;
      // A hang outlives the caller's deadline, then ends, so hung calls do not pile up after the row.
      if (f.kind === "hang") await new Promise((r) => setTimeout(r, deadline.getTime() - Date.now() + 1000));
      if (f.kind === "slow") await new Promise((r) => setTimeout(r, f.delayMs));
      const record = await inner.fetch(req, call);
      if (f.kind === "garbage")
        return create(AnySchema, { typeUrl: record.typeUrl, value: Buffer.from("\xff\xff\xff\xff garbage") });
      return record;
    },
    close: () => inner.close(),
  };
}

process.on("message", (m: ProviderCommand) => {
  if (m.type !== "fault") return;
  fault = m.fault;
  process.send?.({ type: "ok" } satisfies ProviderReply);
});

serveProvider<ProviderConfig>(async (c) => {
  const logger = createLogger({ faults: `connector-${c.agency}-${c.instance}` }, "error");
  const telemetry = createTelemetry({ serviceName: "xbus-connector-faults" });
  const def = exampleAgencies(createPopulation()).find((d) => d.agency === c.agency);
  if (!def) throw new Error(`faults provider: no example agency ${c.agency}`);
  const ca = readFileSync(c.caPath, "utf8");
  const cert = readFileSync(c.connector.certPath, "utf8");
  const key = readFileSync(c.connector.keyPath, "utf8");
  const nc = await connect(
    natsClientOptions({
      servers: c.natsUrl,
      ...(c.natsTls ? { tls: natsTlsInForce({ ca, cert, key }) } : {}),
      extra: connectorNatsOptions(def.agency, c.instance),
    }),
  );
  const connector = startConnector({
    nats: nc,
    agency: def.agency,
    target: faulty(inProcessTarget(def, logger.child({ component: "adapter" }), telemetry)),
    brokerKeys: c.brokerKeyPaths.map((path) => createPublicKey(readFileSync(path))),
    signer: createReplySigner(cert, createPrivateKey(key)),
    logger: logger.child({ component: "connector" }),
    telemetry,
  });
  await nc.flush();
  return {
    async close() {
      await connector.close();
      await nc.close();
      await telemetry.shutdown();
    },
  };
});
