import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { createLogger, XbusError } from "../../core/index.js";
import { CitizenRecordSchema } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { AdapterFetchRequestSchema } from "../../proto/gen/xbus/v1/adapter_pb.js";
import { adapterHandlers, encodedRecord, type FetchContext, NOT_FOUND, recordService } from "./index.js";

/* The SDK's promises to a handler's author, independent of transport. */
const lines: string[] = [];
const logger = createLogger({}, "debug", (l) => lines.push(l));
let last: FetchContext | undefined;
let behaviour: "ok" | "throw" | "hang" | "listen" | "missing" | "encoded" = "ok";
/** What an "encoded" handler returns, as protobuf binary. */
let encoded: Uint8Array = new Uint8Array();
/** Set when a handler that listened to its signal from the start saw it abort. */
let heardAbort: unknown;

const handlers = adapterHandlers({
  agency: "dcrc",
  services: {
    "citizen-record": recordService(
      CitizenRecordSchema,
      async (ctx) => {
        last = ctx;
        if (behaviour === "throw") throw new Error("ORA-12541: TNS:no listener at 10.1.2.3");
        if (behaviour === "hang") return new Promise<never>(() => {});
        if (behaviour === "listen") {
          ctx.signal.addEventListener("abort", () => {
            heardAbort = ctx.signal.reason;
          });
          return new Promise<never>(() => {});
        }
        if (behaviour === "missing") return NOT_FOUND;
        if (behaviour === "encoded") return encodedRecord(encoded);
        ctx.logger.info({}, "fetched");
        // The whole row, whatever was released.
        return {
          citizenId: ctx.subjectId,
          name: "Dechen Zangmo",
          photoRef: "p-1",
          address: { gewog: "Kawang" },
        };
      },
      { sampleSubjectId: "10000000009" },
    ),
  },
});

const req = (fields = ["name", "address.gewog"]) =>
  create(AdapterFetchRequestSchema, {
    exchangeId: "ex-7",
    service: "dcrc.citizen-record",
    subjectId: "10000000009",
    purpose: "identity-verification",
    fields,
  });
const soon = (ms = 5000) => new Date(Date.now() + ms);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e as XbusError,
  );

describe("adapterHandlers", () => {
  it("offers each service's sample subject in Describe", async () => {
    expect((await handlers.describe()).services).toEqual([
      {
        service: "dcrc.citizen-record",
        recordType: "agencies.dcrc.v1.CitizenRecord",
        sampleSubjectId: "10000000009",
      },
    ]);
  });

  it("gives the handler trace context and a logger that names the exchange, and cuts the record", async () => {
    behaviour = "ok";
    const trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const res = await handlers.fetch(req(), { deadline: soon(), logger, traceparent: trace });
    expect(last?.traceparent).toBe(trace);
    expect(JSON.parse(lines.at(-1) ?? "{}")).toMatchObject({
      exchange_id: "ex-7",
      service: "dcrc.citizen-record",
    });
    const r = res.record ? anyUnpack(res.record as never, CitizenRecordSchema) : undefined;
    expect(r).toMatchObject({
      name: "Dechen Zangmo",
      citizenId: "",
      photoRef: "",
      address: { gewog: "Kawang" },
    });
  });

  it("drops a malformed traceparent instead of passing it on", async () => {
    behaviour = "ok";
    await handlers.fetch(req(), { deadline: soon(), logger, traceparent: "00-bad\nheader" });
    expect(last?.traceparent).toBeUndefined();
  });

  it("turns a handler's error into INTERNAL without its message", async () => {
    behaviour = "throw";
    const err = await failure(handlers.fetch(req(), { deadline: soon(), logger }));
    expect(err).toBeInstanceOf(XbusError);
    expect(err.reason).toBe("INTERNAL");
    expect(err.message).not.toContain("ORA-");
  });

  it("answers DEADLINE_EXCEEDED and aborts the handler's signal when the deadline passes", async () => {
    behaviour = "hang";
    const err = await failure(handlers.fetch(req(), { deadline: soon(50), logger }));
    expect(err.reason).toBe("DEADLINE_EXCEEDED");
    expect(last?.signal.aborted).toBe(true);
  });

  it("aborts the signal a handler listens to from its start, when the deadline passes", async () => {
    behaviour = "listen";
    heardAbort = undefined;
    const err = await failure(handlers.fetch(req(), { deadline: soon(50), logger }));
    expect(err.reason).toBe("DEADLINE_EXCEEDED");
    expect(String(heardAbort)).toMatch(/deadline/);
  });

  it("answers SUBJECT_NOT_FOUND for NOT_FOUND", async () => {
    behaviour = "missing";
    expect((await failure(handlers.fetch(req(), { deadline: soon(), logger }))).reason).toBe(
      "SUBJECT_NOT_FOUND",
    );
  });
});

describe("a handler that returns an encoded record", () => {
  const encode = (init: MessageInitShape<typeof CitizenRecordSchema>) =>
    toBinary(CitizenRecordSchema, create(CitizenRecordSchema, init));
  const full = encode({
    citizenId: "10000000009",
    name: "Dechen Zangmo",
    photoRef: "p-1",
    address: { gewog: "Kawang", village: "Dodena" },
  });

  it("has its bytes passed on as they are when they hold released fields only", async () => {
    behaviour = "encoded";
    encoded = encode({ name: "Dechen Zangmo", address: { gewog: "Kawang" } });
    const res = await handlers.fetch(req(), { deadline: soon(), logger });
    expect(res.record?.typeUrl).toBe("type.googleapis.com/agencies.dcrc.v1.CitizenRecord");
    expect(Buffer.from(res.record?.value ?? []).equals(Buffer.from(encoded))).toBe(true);
  });

  it("is cut to the released fields when it holds more", async () => {
    behaviour = "encoded";
    encoded = full;
    const res = await handlers.fetch(req(), { deadline: soon(), logger });
    const got = fromBinary(CitizenRecordSchema, res.record?.value ?? new Uint8Array());
    expect(got).toMatchObject({
      name: "Dechen Zangmo",
      citizenId: "",
      photoRef: "",
      address: { gewog: "Kawang", village: "" },
    });
  });

  it("fails as INTERNAL when the bytes are not a record of the service's type", async () => {
    behaviour = "encoded";
    encoded = Uint8Array.from([0x0a, 0xff, 0xff, 0xff]);
    const err = await failure(handlers.fetch(req(), { deadline: soon(), logger }));
    expect(err.reason).toBe("INTERNAL");
  });
});
