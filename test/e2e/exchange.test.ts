import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueCertificate } from "../../certs/index.js";
import { RouteHeader } from "../../core/nats/index.js";
import {
  type CitizenRecord,
  CitizenRecordSchema,
  Gender,
} from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { AdapterFetchRequestSchema } from "../../proto/gen/xbus/v1/adapter_pb.js";
import { RouteReplySchema } from "../../proto/gen/xbus/v1/route_pb.js";
import { recordReply } from "../helpers/rogue-connector.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";

const SERVICE = "dcrc.citizen-record";
const PURPOSE = "scholarship-eligibility";

let stack: TestStack;
let subject: string;
let nc: NatsConnection;
let providerNc: NatsConnection;

beforeAll(async () => {
  stack = await startTestStack();
  subject =
    stack.population.citizens.find(
      (c) => (stack.population.households.get(c.householdNumber)?.length ?? 0) > 2,
    )?.id ?? "";
  // NATS knows only the broker and connector identities: play the broker (without its signing key) and a dcrc connector.
  nc = await stack.natsConnect({
    cert: readFileSync(join(stack.dir, "certs/broker.pem"), "utf8"),
    key: readFileSync(join(stack.dir, "certs/broker-key.pem"), "utf8"),
  });
  providerNc = await stack.natsConnect(stack.adapterClient);
});
afterAll(async () => {
  await nc?.close();
  await providerNc?.close();
  await stack?.close();
});

function unpack(any: Parameters<typeof anyUnpack>[0] | undefined): CitizenRecord {
  const m = any ? anyUnpack(any, CitizenRecordSchema) : undefined;
  if (!m) throw new Error("no CitizenRecord in the response");
  return m;
}

describe("a granted consumer", () => {
  it("gets the record with only the granted fields", async () => {
    const res = await stack
      .client()
      .fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline());
    const person = stack.population.byId.get(subject);
    const r = unpack(res.record);
    expect(r.name).toBe(person?.name);
    expect(r.dateOfBirth).toBe(person?.dateOfBirth);
    expect(r.address?.dzongkhag).toBe(person?.dzongkhag);
    expect(r.household?.members.length).toBeGreaterThan(2);
    expect(r.household?.members.every((m) => m.name !== "" && m.citizenId === "")).toBe(true);
    // Not granted: gone even though the adapter holds them.
    expect(r.citizenId).toBe("");
    expect(r.gender).toBe(Gender.UNSPECIFIED);
    expect(r.photoRef).toBe("");
    expect(res.exchangeId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.withheldFields).toEqual([]);
    const o = stack.outcomes.find((x) => x.exchangeId === res.exchangeId);
    expect(o).toMatchObject({
      decision: "allow",
      status: "OK",
      consumer: stack.consumer.spiffeId,
      matchedGrants: ["moe-scholarships-citizen-record"],
    });
  });

  it("gets the fields it asked for, and is told which it may not have", async () => {
    const res = await stack.client().fetch(
      {
        service: SERVICE,
        subjectId: subject,
        purpose: PURPOSE,
        fields: ["name", "photo_ref", "address.gewog"],
      },
      deadline(),
    );
    const r = unpack(res.record);
    expect(res.releasedFields).toEqual(["name", "address.gewog"]);
    expect(res.withheldFields).toEqual(["photo_ref"]);
    expect(r.name).not.toBe("");
    expect(r.address).toMatchObject({
      gewog: stack.population.byId.get(subject)?.gewog,
      village: "",
      dzongkhag: "",
    });
    expect(r.dateOfBirth).toBe("");
    expect(r.photoRef).toBe("");
  });

  it("lists the services, purposes and fields it may use", async () => {
    const res = await stack.client().listServices({}, deadline());
    const dcrc = res.services.find((s) => s.service === SERVICE);
    expect(dcrc).toMatchObject({
      service: SERVICE,
      recordType: "agencies.dcrc.v1.CitizenRecord",
      purposes: [PURPOSE],
      consentRequired: false,
    });
    expect(dcrc?.fields).toContain("household.members.name");
  });

  it("gets NOT_FOUND for a citizen the registry does not hold", async () => {
    let unknown = "19999999999";
    while (stack.population.byId.has(unknown)) unknown = String(Number(unknown) - 1);
    const err = await failure(
      stack.client().fetch({ service: SERVICE, subjectId: unknown, purpose: PURPOSE }, deadline()),
    );
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.reason).toBe("SUBJECT_NOT_FOUND");
  });
});

describe("identity: the call never reaches policy", () => {
  it("refuses a client without a certificate at the handshake", async () => {
    const before = stack.outcomes.length;
    const err = await failure(
      stack.client(null).fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline()),
    );
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(stack.outcomes.length).toBe(before);
  });

  it("refuses a certificate from another CA at the handshake", async () => {
    const other = createCa({ trustDomain: "gov.bt", commonName: "impostor CA" });
    const cert = issueCertificate(other, {
      spiffeId: stack.consumer.spiffeId,
      commonName: "impostor",
      usage: "client",
    });
    const before = stack.outcomes.length;
    const err = await failure(
      stack
        .client({ cert: cert.certPem, key: cert.keyPem })
        .fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline()),
    );
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(stack.outcomes.length).toBe(before);
  });

  it("refuses a federation certificate without a SPIFFE ID", async () => {
    const cert = stack.issue("no-spiffe", { commonName: "no spiffe id", usage: "client" });
    const err = await failure(
      stack.client(cert).fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline()),
    );
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.reason).toBe("NO_SPIFFE_ID");
    expect(err.metadata.get("xbus-exchange-id")[0]).toMatch(/^[0-9a-f-]{36}$/);
    const o = stack.outcomes.at(-1);
    expect(o).toMatchObject({ status: "NO_SPIFFE_ID", decision: "invalid", bundleHash: "" });
  });

  it("refuses a connector's certificate calling Fetch", async () => {
    const cert = stack.issue("connector-as-consumer", {
      spiffeId: "spiffe://gov.bt/agency/moe/connector/c1",
      commonName: "moe connector",
      usage: "client",
    });
    const err = await failure(
      stack.client(cert).fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline()),
    );
    expect(err.code).toBe(status.PERMISSION_DENIED);
    expect(err.reason).toBe("WRONG_ROLE");
  });
});

describe("validation: INVALID_ARGUMENT naming the field", () => {
  it.each([
    [{ service: "dcrc.unknown-register" }, "service", "UNKNOWN_SERVICE"],
    [{ service: "dcrc.*" }, "service", "INVALID_SERVICE"],
    [{ service: "dcrc.>" }, "service", "INVALID_SERVICE"],
    [{ service: "a..b" }, "service", "INVALID_SERVICE"],
    [{ service: "" }, "service", "INVALID_SERVICE"],
    [{ subjectId: "1234" }, "subject_id", "INVALID_SUBJECT_ID"],
    [{ subjectId: "1234567890a" }, "subject_id", "INVALID_SUBJECT_ID"],
    [{ subjectId: "123456789012" }, "subject_id", "INVALID_SUBJECT_ID"],
    [{ purpose: "curiosity" }, "purpose", "UNKNOWN_PURPOSE"],
    [{ purpose: "" }, "purpose", "UNKNOWN_PURPOSE"],
    [{ fields: ["shoe_size"] }, "fields", "UNKNOWN_FIELD"],
    [{ fields: ["address.*"] }, "fields", "UNKNOWN_FIELD"],
    [{ requestId: "x".repeat(129) }, "request_id", "INVALID_REQUEST_ID"],
    [{ consentId: "c 1" }, "consent_id", "INVALID_CONSENT_ID"],
  ])("%j → %s", async (patch, field, reason) => {
    const err = await failure(
      stack.client().fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE, ...patch }, deadline()),
    );
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.reason).toBe(reason);
    expect(err.field).toBe(field);
    expect(err.details).toContain(field);
    // The citizen ID is never echoed back.
    expect(err.details).not.toContain(subject);
    expect(stack.outcomes.at(-1)).toMatchObject({ status: reason, decision: "invalid" });
  });
});

describe("policy", () => {
  it("denies a consumer without a grant: PERMISSION_DENIED", async () => {
    const cert = stack.issue("ungranted", {
      spiffeId: "spiffe://gov.bt/agency/moh/system/ehr",
      commonName: "moh ehr",
      usage: "client",
    });
    const err = await failure(
      stack.client(cert).fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline()),
    );
    expect(err.code).toBe(status.PERMISSION_DENIED);
    expect(err.reason).toBe("POLICY_DENIED");
    expect(stack.outcomes.at(-1)).toMatchObject({
      decision: "deny",
      consumer: "spiffe://gov.bt/agency/moh/system/ehr",
    });
  });

  it("denies a granted consumer asking for another purpose", async () => {
    const err = await failure(
      stack.client().fetch({ service: SERVICE, subjectId: subject, purpose: "licence-renewal" }, deadline()),
    );
    expect(err.code).toBe(status.PERMISSION_DENIED);
    expect(err.details).toContain("not for purpose licence-renewal");
  });
});

describe("routing", () => {
  it("refuses, at the connector, a request that no broker signed", async () => {
    const body = toBinary(
      AdapterFetchRequestSchema,
      create(AdapterFetchRequestSchema, {
        exchangeId: "x",
        service: SERVICE,
        subjectId: subject,
        purpose: PURPOSE,
        fields: ["name"],
      }),
    );
    const h = headers();
    h.set(RouteHeader.exchangeId, "x");
    h.set(RouteHeader.deadline, String(Date.now() + 5000));
    h.set(RouteHeader.signature, Buffer.alloc(64).toString("base64"));
    const msg = await nc.request("xbus.svc.dcrc.citizen-record", body, { timeout: 5000, headers: h });
    const reply = fromBinary(RouteReplySchema, msg.data);
    expect(reply.result.case).toBe("error");
    expect(reply.result.value).toMatchObject({
      reason: "BAD_ROUTE_SIGNATURE",
      code: status.PERMISSION_DENIED,
    });
  });

  it("clears fields that policy did not release even when the provider sends them", async () => {
    await stack.stopConnector();
    // A provider that ignores the released fields and sends everything it has.
    const leaky = providerNc.subscribe("xbus.svc.dcrc.*", {
      queue: "xbus-connector-dcrc",
      callback: (_err, m) => {
        const full = create(CitizenRecordSchema, {
          citizenId: subject,
          name: "Leaky",
          photoRef: "secret-photo",
          gender: Gender.MALE,
        });
        // Signed with the dcrc connector's key, as the agency's own connector would sign it.
        void recordReply(m, anyPack(CitizenRecordSchema, full), stack.adapterClient).then((reply) =>
          m.respond(reply),
        );
      },
    });
    await providerNc.flush();
    try {
      const res = await stack
        .client()
        .fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE, fields: ["name"] }, deadline());
      const r = unpack(res.record);
      expect(r.name).toBe("Leaky");
      expect(r.photoRef).toBe("");
      expect(r.citizenId).toBe("");
      expect(r.gender).toBe(Gender.UNSPECIFIED);
    } finally {
      leaky.unsubscribe();
      await providerNc.flush();
      await stack.startConnector();
    }
  });

  it("answers UNAVAILABLE at once when no connector serves the agency, not at the deadline", async () => {
    await stack.stopConnector();
    try {
      const err = await failure(
        stack
          .client()
          .fetch(
            { service: SERVICE, subjectId: subject, purpose: PURPOSE },
            { deadline: Date.now() + 20_000 },
          ),
      );
      expect(err.code).toBe(status.UNAVAILABLE);
      expect(err.reason).toBe("PROVIDER_UNAVAILABLE");
      // PROVIDER_UNAVAILABLE, not DEADLINE_EXCEEDED: NATS reports no responders instead of letting the 20 s run out.
      expect(stack.outcomes.at(-1)).toMatchObject({ decision: "error", status: "PROVIDER_UNAVAILABLE" });
    } finally {
      await stack.startConnector();
    }
  });

  it("answers DEADLINE_EXCEEDED when the provider does not answer in time", async () => {
    await stack.stopConnector();
    const silent = providerNc.subscribe("xbus.svc.dcrc.*", {
      queue: "xbus-connector-dcrc",
      callback: () => {},
    });
    await providerNc.flush();
    try {
      const err = await failure(
        stack
          .client()
          .fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, { deadline: Date.now() + 1500 }),
      );
      expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    } finally {
      silent.unsubscribe();
      await providerNc.flush();
      await stack.startConnector();
    }
  });

  it("still serves after all of the above", async () => {
    const res = await stack
      .client()
      .fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline());
    expect(unpack(res.record).name).toBe(stack.population.byId.get(subject)?.name);
  });
});
