import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { adapterClient, runConformance } from "../../adapters/conformance/index.js";
import { startWithoutSdk } from "../../adapters/examples/without-sdk/adapter.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * The contract is the .proto, not our SDK: an adapter written with another
 * protobuf implementation and only the .proto files passes the same kit.
 */
let stack: TestStack;
let adapter: { port: number; close(): void } | undefined;
const HOLDER = "10000000042";

beforeAll(async () => {
  stack = await startTestStack({ agencies: () => [] });
  const cert = stack.issue("rsta-adapter-without-sdk", {
    spiffeId: "spiffe://gov.bt/agency/rsta/adapter/legacy",
    commonName: "rsta adapter without the SDK",
    usage: "server",
    dnsNames: ["localhost"],
  });
  adapter = await startWithoutSdk({
    caFile: stack.caPath,
    certFile: cert.certPath,
    keyFile: cert.keyPath,
    connectorPrefix: "spiffe://gov.bt/agency/rsta/connector/",
    brokerKeyFiles: [join(stack.dir, "certs", "broker-signing.pub.pem")],
    lookup: (id) =>
      id === HOLDER
        ? {
            citizen_id: HOLDER,
            licence_number: "BT0001234",
            classes: ["LMV"],
            issued_on: "2024-03-01",
            expires_on: "2029-03-01",
            status: 1,
            issuing_office: "RSTA Thimphu",
          }
        : undefined,
  });
});
afterAll(async () => {
  adapter?.close();
  await stack?.close();
});

it("passes the conformance kit", async () => {
  const connector = stack.issue("rsta-connector-for-kit", {
    spiffeId: "spiffe://gov.bt/agency/rsta/connector/kit",
    commonName: "rsta connector",
    usage: "client",
  });
  const client = adapterClient({
    target: `localhost:${adapter?.port}`,
    tls: { ca: stack.ca.certPem, cert: connector.cert, key: connector.key },
  });
  try {
    const results = await runConformance({
      client,
      catalogue: stack.catalogue,
      subject: HOLDER,
      routeKey: stack.brokerSigningKey,
    });
    expect(results.filter((r) => !r.pass)).toEqual([]);
    expect(results).toHaveLength(8);
  } finally {
    client.close();
  }
});
