import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CitizenRecordSchema } from "../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { paddedCitizenRecord, sizeOfSubject, subjectForSize } from "./record.js";

describe("bench records", () => {
  it.each([512, 64 * 1024, 500 * 1024])("pads a citizen record to exactly %i bytes", (bytes) => {
    const init = paddedCitizenRecord(bytes);
    expect(toBinary(CitizenRecordSchema, create(CitizenRecordSchema, init)).length).toBe(bytes);
    expect(init.citizenId).toBe(subjectForSize(bytes));
  });

  it("names the size in an 11-digit subject ID and reads it back", () => {
    expect(subjectForSize(512)).toBe("10000000512");
    expect(sizeOfSubject("10000000512")).toBe(512);
    expect(sizeOfSubject("10000000001")).toBeUndefined();
    expect(sizeOfSubject("20000000512")).toBeUndefined();
    expect(sizeOfSubject("1000000051")).toBeUndefined();
    expect(() => subjectForSize(10 * 1024 * 1024)).toThrow(/record size/);
  });
});
