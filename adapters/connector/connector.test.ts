import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueCertificate } from "../../certs/index.js";
import { silentLogger } from "../../core/index.js";
import { RouteHeader } from "../../core/nats/index.js";
import { createReplySigner, sha256, signRoute, verifyReply } from "../../core/signing/index.js";
import { CitizenRecordSchema } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { AdapterFetchRequestSchema } from "../../proto/gen/xbus/v1/adapter_pb.js";
import { type RouteReply, RouteReplySchema } from "../../proto/gen/xbus/v1/route_pb.js";
import { NatsServer } from "../../stack/index.js";
import { type AdapterDefinition, recordService } from "../sdk/index.js";
import { type Connector, connectorNatsOptions, inProcessTarget, startConnector } from "./index.js";

/*
 * The connector is the agency's gate: what it refuses never reaches the
 * adapter. A real nats-server, a real broker key pair and connector
 * certificate; the adapter counts how often it is called.
 */
const SUBJECT = "xbus.svc.dcrc.citizen-record";
const broker = generateKeyPairSync("ed25519");
const impostor = generateKeyPairSync("ed25519");
const ca = createCa({ trustDomain: "gov.bt", commonName: "test CA" });
const connectorCert = issueCertificate(ca, {
  spiffeId: "spiffe://gov.bt/agency/dcrc/connector/c1",
  commonName: "dcrc connector",
  usage: "client",
});

let nats: NatsServer;
let connectorNc: NatsConnection;
let brokerNc: NatsConnection;
let connector: Connector;
let calls = 0;
let gate: Promise<void> | undefined;
/** Called as the adapter answers, before the connector signs: to renew in the middle of a reply. */
let answering: (() => void) | undefined;

const definition: AdapterDefinition = {
  agency: "dcrc",
  services: {
    "citizen-record": recordService(CitizenRecordSchema, async ({ subjectId }) => {
      calls++;
      await gate;
      answering?.();
      return { citizenId: subjectId, name: "Pema Wangmo" };
    }),
  },
};

beforeAll(async () => {
  nats = await NatsServer.start();
  connectorNc = await connect({
    servers: nats.url,
    ...connectorNatsOptions("dcrc", "test"),
    reconnectTimeWait: 100,
  });
  brokerNc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  connector = startConnector({
    nats: connectorNc,
    agency: "dcrc",
    target: inProcessTarget(definition, silentLogger),
    brokerKeys: [broker.publicKey],
    signer: createReplySigner(connectorCert.certPem, createPrivateKey(connectorCert.keyPem)),
    maxInFlight: 1,
    logger: silentLogger,
  });
  await connectorNc.flush();
});
afterAll(async () => {
  await connector?.close();
  await connectorNc?.close();
  await brokerNc?.close();
  await nats?.dispose();
});

interface Send {
  subject?: string;
  exchangeId?: string;
  deadlineMs?: number;
  key?: typeof broker.privateKey | null;
  tamper?: boolean;
  signedSubject?: string;
}

async function send(o: Send = {}): Promise<RouteReply> {
  const { subject, body, h } = await prepare(o);
  const msg = await brokerNc.request(subject, body, { timeout: 5000, headers: h });
  return fromBinary(RouteReplySchema, msg.data);
}

/** A routed request as the broker would publish it (or a spoiled one), ready to send. */
async function prepare(o: Send = {}) {
  const subject = o.subject ?? SUBJECT;
  const exchangeId = o.exchangeId ?? "ex-1";
  const deadlineMs = o.deadlineMs ?? Date.now() + 5000;
  const body = toBinary(
    AdapterFetchRequestSchema,
    create(AdapterFetchRequestSchema, {
      exchangeId,
      service: "dcrc.citizen-record",
      subjectId: "10000000001",
      purpose: "identity-verification",
      fields: ["citizen_id", "name"],
      consumer: "spiffe://gov.bt/agency/moe/system/scholarships",
    }),
  );
  const h = headers();
  h.set(RouteHeader.exchangeId, exchangeId);
  h.set(RouteHeader.deadline, String(deadlineMs));
  const key = o.key === undefined ? broker.privateKey : o.key;
  if (key)
    h.set(
      RouteHeader.signature,
      await signRoute(key, { exchangeId, subject: o.signedSubject ?? subject, deadlineMs, body }),
    );
  const sent = o.tamper ? Uint8Array.from(body, (b, i) => (i === body.length - 1 ? b ^ 1 : b)) : body;
  return { subject, body: sent, h };
}

const errorOf = (r: RouteReply) => (r.result.case === "error" ? r.result.value : undefined);

describe("refused before the adapter", () => {
  it.each<[string, Send, string, number]>([
    ["no broker signature", { key: null }, "BAD_ROUTE_SIGNATURE", status.PERMISSION_DENIED],
    [
      "signed by a key the connector does not trust",
      { key: impostor.privateKey },
      "BAD_ROUTE_SIGNATURE",
      status.PERMISSION_DENIED,
    ],
    ["a body changed after signing", { tamper: true }, "BAD_ROUTE_SIGNATURE", status.PERMISSION_DENIED],
    [
      "a signature made for another subject",
      { signedSubject: "xbus.svc.dcrc.other-register" },
      "BAD_ROUTE_SIGNATURE",
      status.PERMISSION_DENIED,
    ],
    [
      "a deadline already past",
      { deadlineMs: Date.now() - 1 },
      "DEADLINE_EXCEEDED",
      status.DEADLINE_EXCEEDED,
    ],
  ])("%s", async (_what, o, reason, code) => {
    const before = calls;
    const reply = await send(o);
    expect(errorOf(reply)).toMatchObject({ reason, code });
    expect(reply.providerSignature).toBeUndefined();
    expect(calls).toBe(before);
  });
});

describe("a request the broker signed", () => {
  it("reaches the adapter, and the record comes back signed by the connector", async () => {
    const before = calls;
    const reply = await send({ exchangeId: "ex-signed" });
    expect(calls).toBe(before + 1);
    if (reply.result.case !== "record")
      throw new Error(`expected a record, got ${JSON.stringify(errorOf(reply))}`);
    const any = reply.result.value;
    expect(anyUnpack(any, CitizenRecordSchema)?.name).toBe("Pema Wangmo");
    const sig = reply.providerSignature;
    if (!sig) throw new Error("no provider signature");
    expect(sig.signer).toBe("spiffe://gov.bt/agency/dcrc/connector/c1");
    expect(Buffer.from(sig.recordSha256)).toEqual(Buffer.from(sha256(any.value)));
    const input = { exchangeId: "ex-signed", typeUrl: any.typeUrl, recordSha256: sig.recordSha256 };
    expect(verifyReply(connectorCert.certPem, input, sig)).toBe(true);
    // Bound to the exchange: the same signature does not vouch for another one.
    expect(verifyReply(connectorCert.certPem, { ...input, exchangeId: "ex-other" }, sig)).toBe(false);
    // Signed with a delegated Ed25519 key, whose delegation only the certificate's key can make.
    expect(sig.delegatedKey).toHaveLength(32);
    const forgedKey = Buffer.from(sig.delegatedKey);
    forgedKey[0] = (forgedKey[0] ?? 0) ^ 1;
    expect(verifyReply(connectorCert.certPem, input, { ...sig, delegatedKey: forgedKey })).toBe(false);
    expect(verifyReply(connectorCert.certPem, input, { ...sig, delegation: new Uint8Array(256) })).toBe(
      false,
    );
  });

  it("gets PROVIDER_BUSY while the connector is at its limit, and the adapter is not called", async () => {
    let open = () => {};
    gate = new Promise<void>((r) => {
      open = r;
    });
    const first = send({ exchangeId: "ex-slow" });
    while (connector.inFlight === 0) await new Promise((r) => setTimeout(r, 10));
    const before = calls;
    const busy = await send({ exchangeId: "ex-busy" });
    expect(errorOf(busy)).toMatchObject({ reason: "PROVIDER_BUSY", code: status.RESOURCE_EXHAUSTED });
    expect(calls).toBe(before);
    open();
    gate = undefined;
    expect((await first).result.case).toBe("record");
  });
});

describe("renewal", () => {
  const renewedCert = issueCertificate(ca, {
    spiffeId: "spiffe://gov.bt/agency/dcrc/connector/c1",
    commonName: "dcrc connector (renewed)",
    usage: "client",
  });
  const certSha = (pem: string) => Buffer.from(sha256(new X509Certificate(pem).raw)).toString("hex");
  /** The reply's signature, checked against the certificate it names; returns that certificate. */
  const signedBy = (reply: RouteReply, exchangeId: string): string => {
    if (reply.result.case !== "record") throw new Error(`expected a record, got ${reply.result.case}`);
    const sig = reply.providerSignature;
    if (!sig) throw new Error("no provider signature");
    const named = [connectorCert.certPem, renewedCert.certPem].find(
      (pem) => certSha(pem) === Buffer.from(sig.certificateSha256).toString("hex"),
    );
    if (!named) throw new Error("the signature names neither certificate");
    const input = { exchangeId, typeUrl: reply.result.value.typeUrl, recordSha256: sig.recordSha256 };
    expect(verifyReply(named, input, sig)).toBe(true);
    return named;
  };

  it("signs with the renewed certificate from the next reply on; a reply being signed keeps its signer", async () => {
    expect(signedBy(await send({ exchangeId: "ex-before" }), "ex-before")).toBe(connectorCert.certPem);

    // The renewal lands after the connector took its signer for this reply and before the signature is made
    // (signatures are made at the end of the event-loop turn): the whole reply is still the old certificate's.
    const renewed = createReplySigner(renewedCert.certPem, createPrivateKey(renewedCert.keyPem));
    answering = () => {
      answering = undefined;
      setImmediate(() => connector.renew({ signer: renewed }));
    };
    expect(signedBy(await send({ exchangeId: "ex-during" }), "ex-during")).toBe(connectorCert.certPem);

    const after = await send({ exchangeId: "ex-after" });
    expect(signedBy(after, "ex-after")).toBe(renewedCert.certPem);
    expect(after.providerSignature?.signer).toBe("spiffe://gov.bt/agency/dcrc/connector/c1");
  });
});

describe("reconnecting", () => {
  it("serves again after nats-server restarts, without being restarted itself", async () => {
    await nats.stop();
    await nats.restart();
    // Wait until both clients are back (reconnect is theirs to do, not the test's).
    for (let i = 0; i < 200; i++) {
      try {
        const r = await send({ exchangeId: "ex-after-restart" });
        if (r.result.case === "record") return;
      } catch {
        // no responders or disconnected yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("the connector did not come back after nats-server restarted");
  });
});

describe("closing", () => {
  it("answers what NATS routed to it before it stopped, so no request is left to time out", async () => {
    // A second connector of the agency, in the queue group beside the first, closed while requests arrive.
    const nc = await connect({ servers: nats.url, ...connectorNatsOptions("dcrc", "test") });
    const leaving = startConnector({
      nats: nc,
      agency: "dcrc",
      target: inProcessTarget(definition, silentLogger),
      brokerKeys: [broker.publicKey],
      maxInFlight: 1000,
      logger: silentLogger,
    });
    await nc.flush();
    const ready = await Promise.all(
      Array.from({ length: 300 }, (_, i) => prepare({ exchangeId: `ex-close-${i}` })),
    );
    // Published in one go, and the close begun in the same turn: NATS has routed some of them to the leaving
    // connector before it hears the unsubscribe, and they are on their way to it when it stops listening.
    const outcomes = ready.map(({ subject, body, h }) =>
      brokerNc.request(subject, body, { timeout: 3000, headers: h }).then(
        (m) => fromBinary(RouteReplySchema, m.data).result.case ?? "empty",
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      ),
    );
    await leaving.close();
    const answers = await Promise.all(outcomes);
    // Every request was answered, by the leaving connector or the one that stays (a record or PROVIDER_BUSY).
    expect(answers.filter((a) => a !== "record" && a !== "error")).toEqual([]);
    expect(answers.filter((a) => a === "record").length).toBeGreaterThan(0);
    await nc.close();
  });

  it("still closes while NATS is unreachable, ending its subscription without the server's answer", async () => {
    const nc = await connect({
      servers: nats.url,
      ...connectorNatsOptions("dcrc", "test"),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    const stranded = startConnector({
      nats: nc,
      agency: "dcrc",
      target: inProcessTarget(definition, silentLogger),
      brokerKeys: [broker.publicKey],
      logger: silentLogger,
    });
    await nc.flush();
    await nats.stop();
    try {
      // Resolves (after the drain's wait) rather than hanging until NATS is back.
      await expect(stranded.close()).resolves.toBeUndefined();
    } finally {
      await nats.restart();
      await nc.close();
    }
  }, 20_000);
});
