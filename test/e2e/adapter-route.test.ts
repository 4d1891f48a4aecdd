import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Client, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcTarget } from "../../adapters/connector/index.js";
import { dcrcAdapter } from "../../adapters/examples/dcrc/adapter.js";
import { type AdapterServer, serveAdapter } from "../../adapters/sdk/index.js";
import { createLogger, silentLogger, XbusError } from "../../core/index.js";
import { RouteHeader } from "../../core/nats/index.js";
import { RouteMetadata, signRoute } from "../../core/signing/index.js";
import { CitizenRecordSchema } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import {
  AdapterFetchRequestSchema,
  type AdapterFetchResponse,
  AdapterFetchResponseSchema,
} from "../../proto/gen/xbus/v1/adapter_pb.js";
import { RouteReplySchema } from "../../proto/gen/xbus/v1/route_pb.js";
import { LOOPBACK } from "../../stack/index.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * Issue 19, finding 1: an agency insider holding its connector's certificate, against the real stack
 * (nats-server, TLS, the SDK's adapter). The connector's key alone must reach no record: the adapter
 * wants the broker's route for the very request, refuses a revoked certificate, and the connector
 * serves a route once and talks only to its own agency's adapter.
 */
const SERVICE = "dcrc.citizen-record";

let stack: TestStack;
let subject: string;
let dcrcAddress: string;
let brokerNc: NatsConnection;
const extra: AdapterServer[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  subject = stack.population.citizens[0]?.id ?? "";
  dcrcAddress = stack.adapters.find((a) => a.agency === "dcrc")?.address ?? "";
  brokerNc = await stack.natsConnect({ cert: stack.brokerCert.cert, key: stack.brokerCert.key });
});
afterAll(async () => {
  for (const a of extra) await a.close();
  await brokerNc?.close();
  await stack?.close();
});

const body = (exchangeId: string) =>
  toBinary(
    AdapterFetchRequestSchema,
    create(AdapterFetchRequestSchema, {
      exchangeId,
      service: SERVICE,
      subjectId: subject,
      purpose: "scholarship-eligibility",
      fields: ["name", "citizen_id", "household"],
      consumer: "spiffe://gov.bt/agency/moe/system/scholarships",
    }),
  );

/** The broker's route for `bytes`, as the stack's broker would sign it. */
async function route(bytes: Uint8Array, deadlineMs = Date.now() + 5000) {
  const req = fromBinary(AdapterFetchRequestSchema, bytes);
  const signature = await signRoute(stack.brokerSigningKey, {
    exchangeId: req.exchangeId,
    subject: `xbus.svc.${req.service}`,
    deadlineMs,
    body: bytes,
  });
  return { signature, deadlineMs };
}

/** A Fetch straight to the dcrc adapter, as someone holding `identity` would make it. */
function directFetch(
  client: Client,
  bytes: Uint8Array,
  r?: { signature: string; deadlineMs: number },
): Promise<AdapterFetchResponse> {
  const md = new Metadata();
  if (r) {
    md.set(RouteMetadata.signature, r.signature);
    md.set(RouteMetadata.deadline, String(r.deadlineMs));
  }
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      "/xbus.v1.Adapter/Fetch",
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => fromBinary(AdapterFetchResponseSchema, b),
      bytes,
      md,
      { deadline: Date.now() + 5000 },
      (err: ServiceError | null, v?: AdapterFetchResponse) => (err || !v ? reject(err) : resolve(v)),
    ),
  );
}

const clientOf = (identity: { cert: string; key: string }) =>
  new Client(
    dcrcAddress,
    credentials.createSsl(
      Buffer.from(stack.ca.certPem),
      Buffer.from(identity.key),
      Buffer.from(identity.cert),
    ),
    { "grpc.use_local_subchannel_pool": 1 },
  );

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected a refusal, got a record");
    },
    (e: ServiceError) => ({ code: e.code, reason: e.metadata?.get("xbus-reason")[0] }),
  );

describe("the adapter wants the broker's route, not only a connector's certificate", () => {
  it("refuses a valid connector certificate calling without a route", async () => {
    const c = clientOf(stack.adapterClient);
    try {
      expect(await refusal(directFetch(c, body("insider-1")))).toEqual({
        code: status.PERMISSION_DENIED,
        reason: "BAD_ROUTE_SIGNATURE",
      });
      // The same certificate with the broker's route for this request gets the record: the route is what was missing.
      const bytes = body("insider-2");
      const res = await directFetch(c, bytes, await route(bytes));
      expect(res.record && anyUnpack(res.record, CitizenRecordSchema)?.name).toBeTruthy();
    } finally {
      c.close();
    }
  });

  it("refuses a route for another request, one past its deadline, and one not signed by the broker", async () => {
    const c = clientOf(stack.adapterClient);
    try {
      const bytes = body("insider-3");
      // Signed for a request asking fewer fields; sent with more.
      const narrow = toBinary(AdapterFetchRequestSchema, {
        ...fromBinary(AdapterFetchRequestSchema, bytes),
        fields: ["name"],
      });
      expect(await refusal(directFetch(c, bytes, await route(narrow)))).toMatchObject({
        reason: "BAD_ROUTE_SIGNATURE",
      });
      expect(await refusal(directFetch(c, bytes, await route(bytes, Date.now() - 1)))).toMatchObject({
        reason: "DEADLINE_EXCEEDED",
      });
      const forged = { signature: Buffer.alloc(64).toString("base64"), deadlineMs: Date.now() + 5000 };
      expect(await refusal(directFetch(c, bytes, forged))).toMatchObject({ reason: "BAD_ROUTE_SIGNATURE" });
    } finally {
      c.close();
    }
  });

  it("refuses a revoked connector certificate, on its open connection and on a new one", async () => {
    const insider = stack.issueIdentity("connector-dcrc-insider", {
      role: "connector",
      spiffeId: "spiffe://gov.bt/agency/dcrc/connector/insider",
      commonName: "dcrc connector (insider)",
    });
    const open = clientOf(insider);
    try {
      const first = body("insider-4");
      await directFetch(open, first, await route(first));
      stack.caDir.revoke({ serial: insider.serial }, "keyCompromise");
      expect(stack.reloadCrl()).toBe(true);
      const bytes = body("insider-5");
      expect(await refusal(directFetch(open, bytes, await route(bytes)))).toEqual({
        code: status.UNAUTHENTICATED,
        reason: "CERT_REVOKED",
      });
      const fresh = clientOf(insider);
      try {
        const again = body("insider-6");
        // A new connection fails at the TLS handshake: the adapter's TLS context holds the CRL.
        expect((await refusal(directFetch(fresh, again, await route(again)))).code).toBe(status.UNAVAILABLE);
      } finally {
        fresh.close();
      }
    } finally {
      open.close();
    }
  });
});

describe("the connector", () => {
  it("serves a route once: the same route published again is refused", async () => {
    const bytes = body("replayed-route-1");
    const r = await route(bytes, Date.now() + 10_000);
    const h = headers();
    h.set(RouteHeader.exchangeId, "replayed-route-1");
    h.set(RouteHeader.deadline, String(r.deadlineMs));
    h.set(RouteHeader.signature, r.signature);
    const send = async () =>
      fromBinary(
        RouteReplySchema,
        (await brokerNc.request("xbus.svc.dcrc.citizen-record", bytes, { timeout: 5000, headers: h })).data,
      );
    expect((await send()).result.case).toBe("record");
    const again = await send();
    expect(again.result.case).toBe("error");
    expect(again.result.value).toMatchObject({ reason: "ROUTE_REPLAYED", code: status.PERMISSION_DENIED });
  });

  it("refuses an adapter whose certificate is another agency's, before sending it anything", async () => {
    let reached = 0;
    const def = dcrcAdapter(stack.population);
    const counting = {
      ...def,
      services: Object.fromEntries(
        Object.entries(def.services).map(([k, svc]) => [
          k,
          {
            ...svc,
            fetch: (ctx: Parameters<typeof svc.fetch>[0]) => {
              reached++;
              return svc.fetch(ctx);
            },
          },
        ]),
      ),
    };
    const mohCert = stack.issue("impostor-adapter", {
      spiffeId: "spiffe://gov.bt/agency/moh/adapter/impostor",
      commonName: "moh adapter",
      usage: "server",
      ...LOOPBACK,
    });
    const impostor = await serveAdapter(counting, {
      tls: { ca: stack.ca.certPem, cert: mohCert.cert, key: mohCert.key },
      trustDomain: "gov.bt",
      brokerKeys: [stack.brokerPublicKey],
      logger: silentLogger,
    });
    extra.push(impostor);
    const warnings: string[] = [];
    const target = grpcTarget({
      address: `localhost:${impostor.port}`,
      agency: "dcrc",
      trustDomain: "gov.bt",
      logger: createLogger({}, "warn", (line) => warnings.push(line)),
      tls: { ca: stack.ca.certPem, cert: stack.adapterClient.cert, key: stack.adapterClient.key },
    });
    try {
      const bytes = body("impostor-1");
      const r = await route(bytes);
      const err = await target
        .fetch(fromBinary(AdapterFetchRequestSchema, bytes), {
          deadline: new Date(r.deadlineMs),
          encoded: bytes,
          routeSignature: r.signature,
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(XbusError);
      expect((err as XbusError).reason).toBe("PROVIDER_UNAVAILABLE");
      expect(reached).toBe(0);
      // The connector's operator is told why; the consumer only learns the agency is unavailable.
      expect(warnings.join("")).toContain(
        "spiffe://gov.bt/agency/moh/adapter/impostor, not an adapter of agency dcrc",
      );
    } finally {
      target.close();
    }
  });
});
