import { create, toBinary } from "@bufbuild/protobuf";
import {
  type AdapterDefinition,
  type EncodedRecord,
  encodedRecord,
  NOT_FOUND,
  recordService,
} from "../adapters/sdk/index.js";
import { CitizenRecordSchema } from "../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { paddedCitizenRecord, sizeOfSubject } from "./record.js";

/**
 * The bench's provider: the civil registry's ordinary citizen-record service,
 * answering with a padded record whose size the subject ID names (see
 * record.ts). Like the bare chain's backend it returns a fixed record, built
 * and encoded once per size (`encodedRecord`, as an agency serving protobuf
 * bytes from a cache or a column would): what is measured is the bus carrying
 * it, not an agency building it. The SDK still checks it against the released
 * fields (one wire scan); the bench grant releases every field, so it passes
 * whole (if a grant ever narrowed it, the load generator would count the
 * shorter replies as errors).
 */
export function benchAgency(): AdapterDefinition {
  const cache = new Map<number, EncodedRecord>();
  return {
    agency: "dcrc",
    services: {
      "citizen-record": recordService(CitizenRecordSchema, async ({ subjectId }) => {
        const size = sizeOfSubject(subjectId);
        if (size === undefined) return NOT_FOUND;
        let record = cache.get(size);
        if (!record) {
          record = encodedRecord(
            toBinary(CitizenRecordSchema, create(CitizenRecordSchema, paddedCitizenRecord(size))),
          );
          cache.set(size, record);
        }
        return record;
      }),
    },
  };
}
