import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { retainFields } from "../../core/minimise/index.js";
import { CitizenRecordSchema } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { paddedCitizenRecord } from "../record.js";
import type { MicroBenchmark } from "./registry.js";

/** Step 7 as the broker does it: decode the provider's record, clear what policy did not release. */
function minimise(bytes: number, released: string[]): MicroBenchmark {
  return {
    name: `minimisation: decode + field mask, ${bytes} B citizen record, ${released.length} paths released`,
    setup() {
      const wire = toBinary(CitizenRecordSchema, create(CitizenRecordSchema, paddedCitizenRecord(bytes)));
      return {
        run() {
          retainFields(CitizenRecordSchema, fromBinary(CitizenRecordSchema, wire), released);
          return 1;
        },
      };
    },
  };
}

export const benchmarks: MicroBenchmark[] = [
  minimise(512, ["name", "date_of_birth", "address", "household.household_number", "household.members.name"]),
  minimise(64 * 1024, ["name", "household.members.name"]),
];
