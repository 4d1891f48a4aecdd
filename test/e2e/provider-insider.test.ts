import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CitizenRecordSchema } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { RouteReplySchema } from "../../proto/gen/xbus/v1/route_pb.js";
import { recordReply } from "../helpers/rogue-connector.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * An agency insider holding its connector's certificate (issue 19): it takes the agency's requests off
 * NATS as a connector would, and answers whatever it likes. The broker must not let it speak for the
 * broker, reach the consumer or the log with its own text, or pass off an answer as signed.
 */
const SERVICE = "dcrc.citizen-record";
const PURPOSE = "scholarship-eligibility";

let stack: TestStack;
let subject: string;
let rogueNc: NatsConnection;
const logLines: string[] = [];

beforeAll(async () => {
  stack = await startTestStack({ onLog: (l) => logLines.push(l) });
  subject = stack.population.citizens[0]?.id ?? "";
  rogueNc = await stack.natsConnect(stack.adapterClient);
});
afterAll(async () => {
  await rogueNc?.close();
  await stack?.close();
});

/** Runs `body` while the rogue connector, not the real one, answers dcrc's requests with `answer`. */
async function withRogue<T>(
  answer: (m: Msg) => Uint8Array | Promise<Uint8Array>,
  body: () => Promise<T>,
): Promise<T> {
  await stack.stopConnector();
  const sub = rogueNc.subscribe("xbus.svc.dcrc.*", {
    queue: "xbus-connector-dcrc",
    callback: (_err, m) => {
      void Promise.resolve(answer(m)).then((reply) => m.respond(reply));
    },
  });
  await rogueNc.flush();
  try {
    return await body();
  } finally {
    sub.unsubscribe();
    await rogueNc.flush();
    await stack.startConnector();
  }
}

const errorReply = (code: number, reason: string, message: string) =>
  toBinary(
    RouteReplySchema,
    create(RouteReplySchema, { result: { case: "error", value: { code, reason, message } } }),
  );

const fetchDcrc = () =>
  stack.client().fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline(10_000));

describe("provider errors are a closed set in the broker's words", () => {
  it("a spoofed CONSENT_INVALID reaches the consumer as PROVIDER_ERROR with the broker's text", async () => {
    const spoof = `consent revoked for citizen ${subject} <script>alert(1)</script>`;
    const err = await withRogue(
      () => errorReply(status.PERMISSION_DENIED, "CONSENT_INVALID", spoof),
      () => failure(fetchDcrc()),
    );
    expect(err.code).toBe(status.INTERNAL);
    expect(err.reason).toBe("PROVIDER_ERROR");
    expect(err.details).toBe("PROVIDER_ERROR: dcrc.citizen-record failed at the provider");
    const o = stack.outcomes.at(-1);
    expect(o).toMatchObject({
      status: "PROVIDER_ERROR",
      reasonText: "dcrc.citizen-record failed at the provider",
    });
    expect(logLines.join("")).not.toContain("<script>");
  });

  it("a 1 MB error message reaches neither the consumer nor the log", async () => {
    const marker = "XBUS-ROGUE-TEXT-";
    const huge = marker + "x".repeat(1_000_000 - marker.length);
    const before = logLines.length;
    const err = await withRogue(
      () => errorReply(status.INTERNAL, "INTERNAL", huge),
      () => failure(fetchDcrc()),
    );
    expect(err.reason).toBe("PROVIDER_ERROR");
    expect(err.details.length).toBeLessThan(200);
    expect(stack.outcomes.at(-1)?.reasonText).toBe("dcrc.citizen-record failed at the provider");
    expect(logLines.slice(before).join("")).not.toContain(marker);
  });

  it("the reasons a provider may give keep their meaning, in the broker's words", async () => {
    for (const [code, reason, expected] of [
      [status.NOT_FOUND, "SUBJECT_NOT_FOUND", status.NOT_FOUND],
      [status.RESOURCE_EXHAUSTED, "PROVIDER_BUSY", status.RESOURCE_EXHAUSTED],
      // The code a provider sends is not read: the reason's own code is used.
      [status.OK, "PROVIDER_BUSY", status.RESOURCE_EXHAUSTED],
      [status.UNAVAILABLE, "BAD_ROUTE_SIGNATURE", status.INTERNAL],
    ] as const) {
      const err = await withRogue(
        () => errorReply(code, reason, "provider text"),
        () => failure(fetchDcrc()),
      );
      expect(err.code).toBe(expected);
      expect(err.details).not.toContain("provider text");
    }
  });
});

describe("replies count only when a connector of the service's agency signed them", () => {
  const record = () => anyPack(CitizenRecordSchema, create(CitizenRecordSchema, { name: "Made Up" }));
  const moh = () => {
    const c = stack.adapters.find((a) => a.agency === "moh")?.client;
    if (!c) throw new Error("no moh connector certificate");
    return c;
  };

  it("takes a record its agency's connector signed (the control)", async () => {
    const res = await withRogue((m) => recordReply(m, record(), stack.adapterClient), fetchDcrc);
    expect(res.releasedFields.length).toBeGreaterThan(0);
    expect(stack.outcomes.at(-1)?.providerSignature?.signer).toBe(
      "spiffe://gov.bt/agency/dcrc/connector/dev",
    );
  });

  it.each<[string, (m: Msg) => Promise<Uint8Array>, string]>([
    ["unsigned", (m) => recordReply(m, record(), null), "its connector did not sign"],
    [
      "with an all-zero signature",
      (m) => recordReply(m, record(), stack.adapterClient, { signature: new Uint8Array(64) }),
      "a signature that does not verify",
    ],
    [
      "signed by another agency's connector",
      (m) => recordReply(m, record(), moh()),
      "a connector of another agency than dcrc",
    ],
  ])("refuses a record %s", async (_what, answer, why) => {
    const err = await withRogue(answer, () => failure(fetchDcrc()));
    expect(err.reason).toBe("PROVIDER_BAD_RECORD");
    expect(err.details).toContain(why);
    const o = stack.outcomes.at(-1);
    expect(o).toMatchObject({ status: "PROVIDER_BAD_RECORD", fieldsReleased: [] });
    expect(o?.providerSignature).toBeUndefined();
  });
});
