import { generateKeyPairSync } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createCa, issueCertificate } from "../../certs/index.js";
import { silentLogger, XbusError } from "../../core/index.js";
import { signRoute } from "../../core/signing/index.js";
import { CitizenRecordSchema } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { AdapterFetchRequestSchema } from "../../proto/gen/xbus/v1/adapter_pb.js";
import { type AdapterDefinition, type AdapterServer, recordService, serveAdapter } from "../sdk/index.js";
import { replaceableTarget } from "./adapter-target.js";
import { type AdapterTarget, grpcTarget } from "./index.js";

/*
 * The connector's channel to a gRPC adapter: trace context goes through as
 * metadata, when the adapter restarts the same target serves again without
 * being rebuilt, and a renewed client takes over without failing a call.
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
const broker = generateKeyPairSync("ed25519");
const seen: (string | undefined)[] = [];
/** While set, the adapter holds its answers: to keep calls in flight. */
let held: Promise<void> | undefined;
const definition: AdapterDefinition = {
  agency: "dcrc",
  services: {
    "citizen-record": recordService(CitizenRecordSchema, async ({ subjectId, traceparent }) => {
      seen.push(traceparent);
      await held;
      return { citizenId: subjectId, name: "Karma Dorji" };
    }),
  },
};
const serve = (listen: string) =>
  serveAdapter(definition, {
    listen,
    tls: { ca: ca.certPem, cert: adapterCert.certPem, key: adapterCert.keyPem },
    trustDomain: "gov.bt",
    brokerKeys: [broker.publicKey],
    logger: silentLogger,
  });

let adapter: AdapterServer;
let target: AdapterTarget;
beforeAll(async () => {
  adapter = await serve("localhost:0");
  target = grpcTarget({
    address: `localhost:${adapter.port}`,
    agency: "dcrc",
    trustDomain: "gov.bt",
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
/** The call as a connector makes it: the request's bytes and the route the broker signed for them. */
async function routed(ms: number, traceparent?: string) {
  const encoded = toBinary(AdapterFetchRequestSchema, request);
  const deadlineMs = Date.now() + ms;
  const routeSignature = await signRoute(broker.privateKey, {
    exchangeId: request.exchangeId,
    subject: `xbus.svc.${request.service}`,
    deadlineMs,
    body: encoded,
  });
  return { deadline: new Date(deadlineMs), traceparent, encoded, routeSignature };
}
const fetchName = async () =>
  anyUnpack(await target.fetch(request, await routed(5000, TRACE)), CitizenRecordSchema)?.name;

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

it("hands new calls to a replacing client and closes the old one once its calls in flight have answered", async () => {
  const renewedCert = issueCertificate(ca, {
    spiffeId: "spiffe://gov.bt/agency/dcrc/connector/c1",
    commonName: "dcrc connector (renewed)",
    usage: "client",
  });
  /** A gRPC target that counts its calls and says when it is closed. */
  const counted = (cert: { certPem: string; keyPem: string }) => {
    const t = grpcTarget({
      address: `localhost:${adapter.port}`,
      agency: "dcrc",
      trustDomain: "gov.bt",
      tls: { ca: ca.certPem, cert: cert.certPem, key: cert.keyPem },
    });
    const c = {
      calls: 0,
      closed: false,
      target: {
        fetch: (...args: Parameters<AdapterTarget["fetch"]>) => {
          c.calls++;
          return t.fetch(...args);
        },
        close: () => {
          c.closed = true;
          t.close();
        },
      } satisfies AdapterTarget,
    };
    return c;
  };
  const old = counted(connectorCert);
  const renewed = counted(renewedCert);
  const replaceable = replaceableTarget(old.target);
  const name = async () =>
    anyUnpack(await replaceable.fetch(request, await routed(10_000)), CitizenRecordSchema)?.name;

  let release = () => {};
  held = new Promise<void>((r) => {
    release = r;
  });
  const seenBefore = seen.length;
  const before = Array.from({ length: 5 }, name);
  while (seen.length < seenBefore + 5) await new Promise((r) => setTimeout(r, 10));
  replaceable.replace(renewed.target);
  const after = Array.from({ length: 3 }, name);
  expect(old.closed).toBe(false); // five calls are still waiting for the adapter's answer
  release();
  held = undefined;
  expect(await Promise.all([...before, ...after])).toEqual(Array(8).fill("Karma Dorji"));
  expect([old.calls, renewed.calls]).toEqual([5, 3]);
  expect([old.closed, renewed.closed]).toEqual([true, false]);
  replaceable.close();
  expect(renewed.closed).toBe(true);
});
