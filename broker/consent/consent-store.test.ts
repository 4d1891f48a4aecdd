import { create } from "@bufbuild/protobuf";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger, uuidv7 } from "../../core/index.js";
import { ConsentRecordSchema } from "../../proto/gen/xbus/v1/consent_pb.js";
import { NatsServer } from "../../stack/index.js";
import { consentKey, openConsentStore } from "./consent-store.js";

let nats: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await NatsServer.start();
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

const consent = (id = uuidv7()) =>
  create(ConsentRecordSchema, {
    id,
    subjectId: "10000000001",
    consumer: "spiffe://gov.bt/agency/moh/system/ehr",
    services: ["moh.vaccination-record"],
    purpose: "care",
    notAfter: BigInt(Date.now() + 60_000),
  });

describe("consent store", () => {
  it("holds a write in its local copy when put returns, revocation included", async () => {
    const store = await openConsentStore({ nc, logger: silentLogger, bucket: "t1" });
    try {
      const c = consent();
      await store.put(c);
      expect(store.get(c.id)).toMatchObject({ subjectId: "10000000001", revokedAt: 0 });
      await store.put(create(ConsentRecordSchema, { ...c, revokedAt: 5n }));
      expect(store.get(c.id)?.revokedAt).toBe(5);
      expect(store.listBySubject("10000000001").map((x) => x.id)).toEqual([c.id]);
    } finally {
      await store.close();
    }
  });

  it("a broker that starts later has every consent before it decides", async () => {
    const first = await openConsentStore({ nc, logger: silentLogger, bucket: "t2" });
    const ids = [uuidv7(), uuidv7(), uuidv7()];
    for (const id of ids) await first.put(consent(id));
    await first.close();
    const second = await openConsentStore({ nc, logger: silentLogger, bucket: "t2" });
    try {
      for (const id of ids) expect(second.get(id)?.id).toBe(id);
    } finally {
      await second.close();
    }
  });

  it("derives keys only from ids the broker could have made", () => {
    expect(consentKey("0190a3b4-0000-7000-8000-000000000000")).toBe(
      "consent.0190a3b4-0000-7000-8000-000000000000",
    );
    for (const bad of ["", "a.b", "*", ">", "../x", "0190A3B4-0000-7000-8000-000000000000"])
      expect(() => consentKey(bad)).toThrow();
  });
});
