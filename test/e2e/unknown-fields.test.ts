import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { AnySchema, anyUnpack } from "@bufbuild/protobuf/wkt";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CitizenRecordSchema } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { recordReply } from "../helpers/rogue-connector.js";
import { deadline, startTestStack, type TestStack } from "../helpers/stack.js";

/**
 * Minimisation must hold for bytes the record type does not describe: a
 * provider that appends a field number the schema lacks (a newer schema, a
 * bug, or on purpose) must not get it to the consumer.
 */
let stack: TestStack;
let nc: NatsConnection;
beforeAll(async () => {
  stack = await startTestStack();
  // NATS knows only broker and connector identities: play the dcrc connector.
  nc = await stack.natsConnect(stack.adapterClient);
});
afterAll(async () => {
  await nc?.close();
  await stack?.close();
});

describe("minimisation", () => {
  it("drops fields the record type does not know, whatever the provider sends", async () => {
    const subject = stack.population.citizens[0]?.id ?? "";
    await stack.stopConnector();
    const record = toBinary(CitizenRecordSchema, create(CitizenRecordSchema, { name: "Pema Wangmo" }));
    // Field 99 (length-delimited) is in no version of CitizenRecord.
    const extra = new BinaryWriter().tag(99, WireType.LengthDelimited).string("secret-unknown").finish();
    const leaky = nc.subscribe("xbus.svc.dcrc.*", {
      queue: "xbus-connector-dcrc",
      callback: (_err, m) => {
        const value = new Uint8Array([...record, ...extra]);
        // Signed with the dcrc connector's key: the broker takes only signed replies.
        void recordReply(
          m,
          create(AnySchema, { typeUrl: `type.googleapis.com/${CitizenRecordSchema.typeName}`, value }),
          stack.adapterClient,
        ).then((reply) => m.respond(reply));
      },
    });
    await nc.flush();
    try {
      const res = await stack
        .client()
        .fetch(
          { service: "dcrc.citizen-record", subjectId: subject, purpose: "scholarship-eligibility" },
          deadline(),
        );
      expect(Buffer.from(res.record?.value ?? []).includes("secret-unknown")).toBe(false);
      const r = res.record ? anyUnpack(res.record, CitizenRecordSchema) : undefined;
      expect(r?.name).toBe("Pema Wangmo");
      expect(r?.$unknown).toBeUndefined();
    } finally {
      leaky.unsubscribe();
      await nc.flush();
      await stack.startConnector();
    }
  });
});
