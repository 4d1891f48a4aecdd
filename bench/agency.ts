import { type AdapterDefinition, NOT_FOUND, recordService } from "../adapters/sdk/index.js";
import { CitizenRecordSchema } from "../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { type CitizenRecordInit, paddedCitizenRecord, sizeOfSubject } from "./record.js";

/**
 * The bench's provider: the civil registry's ordinary citizen-record service,
 * answering with a padded record whose size the subject ID names (see
 * record.ts). It builds the record from plain data on every call, as an
 * adapter reading a database would; only the data itself is cached.
 */
export function benchAgency(): AdapterDefinition {
  const cache = new Map<number, CitizenRecordInit>();
  return {
    agency: "dcrc",
    services: {
      "citizen-record": recordService(CitizenRecordSchema, async ({ subjectId }) => {
        const size = sizeOfSubject(subjectId);
        if (size === undefined) return NOT_FOUND;
        let init = cache.get(size);
        if (!init) {
          init = paddedCitizenRecord(size);
          cache.set(size, init);
        }
        return init;
      }),
    },
  };
}
