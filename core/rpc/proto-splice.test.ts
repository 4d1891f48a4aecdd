import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AdapterFetchResponseSchema } from "../../proto/gen/xbus/v1/adapter_pb.js";
import { FetchResponseSchema } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { RouteReplySchema } from "../../proto/gen/xbus/v1/route_pb.js";
import { toBinarySpliced } from "./proto-splice.js";

const TYPE_URL = "type.googleapis.com/agencies.dcrc.v1.CitizenRecord";
const bytesOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) % 256);

describe("toBinarySpliced", () => {
  for (const size of [0, 1, 255, 256, 300, 16_383, 16_384, 70_000, 600_000]) {
    it(`encodes envelopes with a ${size}-byte record that decode to the same message`, () => {
      const record = create(AnySchema, { typeUrl: TYPE_URL, value: bytesOf(size) });
      const fetch = create(FetchResponseSchema, {
        exchangeId: "01930000-0000-7000-8000-000000000001",
        record,
        releasedFields: ["name", "household.members.name"],
        withheldFields: ["photo_ref"],
        receipt: { logId: "gov.bt/xbus-log", leafIndex: 41n, batchSize: 3, batchPath: [bytesOf(32)] },
      });
      const route = create(RouteReplySchema, {
        result: { case: "record", value: record },
        providerSignature: { signer: "spiffe://gov.bt/agency/dcrc/connector/a", signature: bytesOf(64) },
      });
      const adapter = create(AdapterFetchResponseSchema, { record });
      for (const [schema, msg] of [
        [FetchResponseSchema, fetch],
        [RouteReplySchema, route],
        [AdapterFetchResponseSchema, adapter],
      ] as const) {
        const spliced = toBinarySpliced(schema as never, msg as never);
        expect(equals(schema as never, fromBinary(schema, spliced) as never, msg as never)).toBe(true);
        // Same length as protobuf-es's own encoding: only the order of fields may differ.
        expect(spliced.length).toBe(toBinary(schema as never, msg as never).length);
        if (size < 256)
          expect(Buffer.from(spliced).equals(Buffer.from(toBinary(schema as never, msg as never)))).toBe(
            true,
          );
      }
    });
  }

  it("leaves messages without a record, or with an error in the oneof, to toBinary", () => {
    const err = create(RouteReplySchema, {
      result: { case: "error", value: { code: 5, reason: "SUBJECT_NOT_FOUND" } },
    });
    expect(
      Buffer.from(toBinarySpliced(RouteReplySchema, err)).equals(
        Buffer.from(toBinary(RouteReplySchema, err)),
      ),
    ).toBe(true);
    const empty = create(FetchResponseSchema, { exchangeId: "x" });
    expect(
      fromBinary(FetchResponseSchema, toBinarySpliced(FetchResponseSchema, empty)).record,
    ).toBeUndefined();
  });
});
