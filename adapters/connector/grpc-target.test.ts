import { create } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createCa, issueCertificate } from "../../certs/index.js";
import { XbusError } from "../../core/errors.js";
import { silentLogger } from "../../core/logger.js";
import { CitizenRecordSchema } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { AdapterFetchRequestSchema } from "../../proto/gen/xbus/v1/adapter_pb.js";
import { type AdapterDefinition, type AdapterServer, recordService, serveAdapter } from "../sdk/index.js";
import { type AdapterTarget, grpcTarget } from "./index.js";

/*
 * The connector's channel to a gRPC adapter: trace context goes through as
 * metadata, and when the adapter restarts the same target serves again
 * without being rebuilt.
 */
const ca = createCa({ trustDomain: "gov.bt", commonName: "test CA" });
const adapterCert = issueCertificate(ca, {
  spiffeId: "spiffe://gov.bt/agency/dcrc/adapter/a1",
  commonName: "dcrc adapter",
  usage: "server",
  dnsNames: ["localhost"],
});
const connectorCert = issueCertificate(ca, {
  spiffeId: "spiffe://gov.bt/agency/dcrc/connector/c1",
  commonName: "dcrc connector",
  usage: "client",
});
const seen: (string | undefined)[] = [];
const definition: AdapterDefinition = {
  agency: "dcrc",
  services: {
    "citizen-record": recordService(CitizenRecordSchema, async ({ subjectId, traceparent }) => {
      seen.push(traceparent);
      return { citizenId: subjectId, name: "Karma Dorji" };
    }),
  },
};
const serve = (listen: string) =>
  serveAdapter(definition, {
    listen,
    tls: { ca: ca.certPem, cert: adapterCert.certPem, key: adapterCert.keyPem },
    trustDomain: "gov.bt",
    logger: silentLogger,
  });

let adapter: AdapterServer;
let target: AdapterTarget;
beforeAll(async () => {
  adapter = await serve("localhost:0");
  target = grpcTarget({
    address: `localhost:${adapter.port}`,
    tls: { ca: ca.certPem, cert: connectorCert.certPem, key: connectorCert.keyPem },
  });
});
afterAll(async () => {
  target?.close();
  await adapter?.close();
});

const TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const request = create(AdapterFetchRequestSchema, {
  exchangeId: "ex-1",
  service: "dcrc.citizen-record",
  subjectId: "10000000001",
  purpose: "identity-verification",
  fields: ["name"],
});
const fetchName = async () =>
  anyUnpack(await target.fetch(request, new Date(Date.now() + 5000), TRACE), CitizenRecordSchema)?.name;

it("passes the trace context to the handler", async () => {
  expect(await fetchName()).toBe("Karma Dorji");
  expect(seen.at(-1)).toBe(TRACE);
});

it("serves again after the adapter restarts on the same address", async () => {
  const port = adapter.port;
  await adapter.close();
  const down = await fetchName().catch((e: unknown) => e);
  expect(down).toBeInstanceOf(XbusError);
  expect((down as XbusError).reason).toBe("PROVIDER_UNAVAILABLE");
  adapter = await serve(`localhost:${port}`);
  // The channel's own reconnect brings it back; the test only waits for it.
  for (let i = 0; i < 100; i++) {
    const name = await fetchName().catch(() => undefined);
    if (name === "Karma Dorji") return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the target did not reconnect to the restarted adapter");
});
