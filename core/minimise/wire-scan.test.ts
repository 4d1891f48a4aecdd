import { create, type DescMessage, equals, fromBinary, type Message, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { FileOptionsSchema, SourceCodeInfo_LocationSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { type CitizenRecord, CitizenRecordSchema } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { ExamResultsSchema } from "../../proto/gen/agencies/moe/v1/education_pb.js";
import { fullCitizenRecord } from "../../test/helpers/citizen-record.js";
import { retainFields } from "./field-mask.js";
import { buildTree } from "./field-tree.js";
import { passesAsReleased } from "./wire-scan.js";

// A non-ASCII name, so the native UTF-8 check runs too.
const citizen = () =>
  toBinary(
    CitizenRecordSchema,
    create(CitizenRecordSchema, { ...fullCitizenRecord(), name: "Pema Lhamo པདྨ་" }),
  );
const exams = () =>
  toBinary(
    ExamResultsSchema,
    create(ExamResultsSchema, {
      citizenId: "10000000001",
      results: [
        {
          exam: "BCSE",
          year: 2019,
          indexNumber: "X1",
          school: "s",
          percentage: 71.5,
          marks: [
            { subject: "English", mark: 70 },
            { subject: "Dzongkha", mark: 73 },
          ],
        },
      ],
    }),
  );
const ALL_CITIZEN = CitizenRecordSchema.fields.map((f) => f.name);
const ALL_EXAMS = ExamResultsSchema.fields.map((f) => f.name);

/** What the full path would release. */
function slow(desc: DescMessage, bytes: Uint8Array, released: string[]): Message {
  const m = fromBinary(desc, bytes, { readUnknownFields: false });
  retainFields(desc, m, released);
  return m;
}

/** The fast path passes only what the full path would release unchanged. */
function sameAsFullPath(desc: DescMessage, bytes: Uint8Array, released: string[]): boolean {
  return equals(desc, fromBinary(desc, bytes) as Message, slow(desc, bytes, released));
}

/** `extra` appended to `bytes`: a field of the top-level message. */
function withField(bytes: Uint8Array, write: (w: BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter();
  write(w);
  return Buffer.concat([bytes, w.finish()]);
}

describe("passesAsReleased: the fast path of minimisation", () => {
  it("passes a record whose every field is released, and it is exactly what the full path releases", () => {
    for (const [desc, bytes, released] of [
      [CitizenRecordSchema, citizen(), ALL_CITIZEN],
      [ExamResultsSchema, exams(), ALL_EXAMS],
      [CitizenRecordSchema, citizen(), [...ALL_CITIZEN, "household.members.name"]],
    ] as const) {
      expect(passesAsReleased(desc, bytes, buildTree(released))).toBe(true);
      expect(sameAsFullPath(desc, bytes, [...released])).toBe(true);
    }
  });

  it("passes a record the adapter already cut to nested released paths", () => {
    const released = ["citizen_id", "household.members.name"];
    const cut = toBinary(
      CitizenRecordSchema,
      slow(CitizenRecordSchema, citizen(), released) as CitizenRecord,
    );
    expect(passesAsReleased(CitizenRecordSchema, cut, buildTree(released))).toBe(true);
    expect(sameAsFullPath(CitizenRecordSchema, cut, released)).toBe(true);
  });

  it("sends to the full path a record that carries a withheld field, top-level or nested", () => {
    expect(passesAsReleased(CitizenRecordSchema, citizen(), buildTree(["citizen_id", "name"]))).toBe(false);
    expect(
      passesAsReleased(
        CitizenRecordSchema,
        citizen(),
        buildTree(ALL_CITIZEN.filter((f) => f !== "household").concat("household.members.name")),
      ),
    ).toBe(false);
    expect(passesAsReleased(ExamResultsSchema, exams(), buildTree(["citizen_id", "results.exam"]))).toBe(
      false,
    );
  });

  it("sends to the full path unknown fields, at the top and inside a nested message", () => {
    const top = withField(citizen(), (w) => w.tag(99, WireType.LengthDelimited).string("smuggled"));
    expect(passesAsReleased(CitizenRecordSchema, top, buildTree(ALL_CITIZEN))).toBe(false);
    const nested = toBinary(
      ExamResultsSchema,
      create(ExamResultsSchema, { citizenId: "1", results: [{ exam: "BCSE" }] }),
    );
    // results[0] again, with an unknown field 42 inside it (a parser merges the two occurrences).
    const inner = new BinaryWriter().tag(42, WireType.Varint).uint32(7).finish();
    const sneaky = withField(nested, (w) => w.tag(2, WireType.LengthDelimited).bytes(inner));
    expect(passesAsReleased(ExamResultsSchema, sneaky, buildTree(ALL_EXAMS))).toBe(false);
  });

  it("sends to the full path wrong wire types, invalid UTF-8, truncation and trailing junk", () => {
    const released = buildTree(ALL_CITIZEN);
    const wrongType = withField(citizen(), (w) => w.tag(2, WireType.Varint).uint32(5)); // name as a number
    expect(passesAsReleased(CitizenRecordSchema, wrongType, released)).toBe(false);
    const badUtf8 = withField(citizen(), (w) =>
      w.tag(2, WireType.LengthDelimited).bytes(Buffer.from([0xc3, 0x28])),
    );
    expect(passesAsReleased(CitizenRecordSchema, badUtf8, released)).toBe(false);
    // Cut anywhere: what passes (a cut on a field boundary is a shorter valid record) decodes to what the
    // full path releases; a cut inside a field never passes.
    const whole = citizen();
    let refused = 0;
    for (let end = 0; end < whole.length; end++) {
      const part = whole.subarray(0, end);
      if (passesAsReleased(CitizenRecordSchema, part, released))
        expect(sameAsFullPath(CitizenRecordSchema, part, ALL_CITIZEN)).toBe(true);
      else refused++;
    }
    expect(refused).toBeGreaterThan(whole.length / 2);
    const midString = Buffer.from(whole).indexOf("Pema") + 2;
    expect(passesAsReleased(CitizenRecordSchema, whole.subarray(0, midString), released)).toBe(false);
    expect(passesAsReleased(CitizenRecordSchema, Buffer.concat([whole, Buffer.from([0x80])]), released)).toBe(
      false,
    );
  });

  it("refuses a tag whose varint is wider than 32 bits, even if its low bits name a released field", () => {
    const released = buildTree(ALL_CITIZEN);
    // 2^32 + (2 << 3 | LEN): read as 32 bits it would be field 2 (name), length-delimited.
    const wide = Buffer.concat([citizen(), Buffer.from([0x92, 0x80, 0x80, 0x80, 0x10, 0x01, 0x61])]);
    expect(passesAsReleased(CitizenRecordSchema, wide, released)).toBe(false);
    // The same field with its tag in five bytes but the value in range passes, as the full path decodes it.
    const padded = Buffer.concat([citizen(), Buffer.from([0x92, 0x80, 0x80, 0x80, 0x00, 0x01, 0x61])]);
    expect(passesAsReleased(CitizenRecordSchema, padded, released)).toBe(true);
    expect(sameAsFullPath(CitizenRecordSchema, padded, ALL_CITIZEN)).toBe(true);
  });

  it("passes the empty record", () => {
    expect(passesAsReleased(CitizenRecordSchema, new Uint8Array(0), buildTree([]))).toBe(true);
  });
});

describe("passesAsReleased: packed repeated numbers", () => {
  // No record type of ours has one yet; SourceCodeInfo.Location's path and span are packed int32s.
  const location = () =>
    toBinary(
      SourceCodeInfo_LocationSchema,
      create(SourceCodeInfo_LocationSchema, {
        path: [4, 0, 2, 300],
        span: [1, 2, 70000],
        leadingComments: "x",
      }),
    );
  const all = buildTree(SourceCodeInfo_LocationSchema.fields.map((f) => f.name));

  it("passes packed varints that fill their field exactly, as the full path releases them", () => {
    const bytes = location();
    expect(passesAsReleased(SourceCodeInfo_LocationSchema, bytes, all)).toBe(true);
    expect(
      sameAsFullPath(
        SourceCodeInfo_LocationSchema,
        bytes,
        SourceCodeInfo_LocationSchema.fields.map((f) => f.name),
      ),
    ).toBe(true);
  });

  it("refuses a packed field whose last varint runs past its end", () => {
    // path (field 1, packed) of length 2 holding [0x05, 0x80]: the second varint never ends inside it.
    const broken = new Uint8Array([0x0a, 0x02, 0x05, 0x80]);
    expect(passesAsReleased(SourceCodeInfo_LocationSchema, broken, all)).toBe(false);
  });

  it("looks up fields numbered 256 and above as well as small ones (uninterpreted_option = 999)", () => {
    const options = toBinary(
      FileOptionsSchema,
      create(FileOptionsSchema, { javaPackage: "bt.gov", uninterpretedOption: [{ identifierValue: "x" }] }),
    );
    const all = FileOptionsSchema.fields.map((f) => f.name);
    expect(passesAsReleased(FileOptionsSchema, options, buildTree(all))).toBe(true);
    expect(
      passesAsReleased(
        FileOptionsSchema,
        options,
        buildTree(all.filter((n) => n !== "uninterpreted_option")),
      ),
    ).toBe(false);
    // An unknown field numbered 300: refused, as small unknown ones are.
    const unknown = new BinaryWriter().tag(300, WireType.Varint).uint32(1).finish();
    expect(passesAsReleased(FileOptionsSchema, unknown, buildTree(all))).toBe(false);
  });
});
