import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { CitizenRecordSchema, Gender } from "../proto/gen/agencies/dcrc/v1/citizen_pb.js";

/**
 * The bench's records: an ordinary CitizenRecord from the federation
 * catalogue whose household is padded with members until its protobuf
 * encoding is exactly the size a benchmark point asks for. The size travels
 * in the subject ID, so one running adapter serves every size.
 */
export type CitizenRecordInit = MessageInitShape<typeof CitizenRecordSchema>;

/** Largest record the bench adapter will build (NATS's default max_payload is 1 MB). */
export const MAX_RECORD_BYTES = 900 * 1024;

/** An 11-digit citizen ID that names a record size: "1" then the size in bytes, zero-padded. */
export function subjectForSize(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 64 || bytes > MAX_RECORD_BYTES)
    throw new RangeError(`record size must be an integer from 64 to ${MAX_RECORD_BYTES} bytes, got ${bytes}`);
  return `1${String(bytes).padStart(10, "0")}`;
}

export function sizeOfSubject(subjectId: string): number | undefined {
  if (!/^1[0-9]{10}$/.test(subjectId)) return undefined;
  const n = Number(subjectId.slice(1));
  return n >= 64 && n <= MAX_RECORD_BYTES ? n : undefined;
}

const encodedSize = (init: CitizenRecordInit) =>
  toBinary(CitizenRecordSchema, create(CitizenRecordSchema, init)).length;

function recordWith(subjectId: string, members: number, photoRef: string): CitizenRecordInit {
  return {
    citizenId: subjectId,
    name: "Pema Wangmo",
    dateOfBirth: "1990-04-12",
    gender: Gender.FEMALE,
    household: {
      householdNumber: "000001",
      members: Array.from({ length: members }, (_, i) => ({
        citizenId: `1${String(i).padStart(10, "0")}`,
        name: i % 2 === 0 ? "Sonam Choden" : "Karma Wangchuk",
        relationship: i === 0 ? "head" : "child",
      })),
    },
    address: { village: "Gomkha", gewog: "Chang", dzongkhag: "Thimphu" },
    photoRef,
  };
}

/** A CitizenRecord (plain init) whose binary encoding is exactly `bytes` long. */
export function paddedCitizenRecord(bytes: number): CitizenRecordInit {
  const subjectId = subjectForSize(bytes);
  // The most members that still leave a few bytes for the photo reference: size grows with members, so bisect.
  let lo = 0;
  let hi = Math.ceil(bytes / 8);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (encodedSize(recordWith(subjectId, mid, "")) <= bytes - 4) lo = mid;
    else hi = mid - 1;
  }
  const members = lo;
  // Fill the rest with the photo reference; its length prefix can grow by a byte, so settle in a few steps.
  let pad = Math.max(0, bytes - encodedSize(recordWith(subjectId, members, "")) - 2);
  for (let i = 0; i < 4; i++) {
    const size = encodedSize(recordWith(subjectId, members, "p".repeat(pad)));
    if (size === bytes) break;
    pad = Math.max(0, pad + bytes - size);
  }
  const init = recordWith(subjectId, members, "p".repeat(pad));
  const got = encodedSize(init);
  if (got !== bytes) throw new Error(`could not pad a CitizenRecord to ${bytes} bytes (got ${got})`);
  return init;
}
