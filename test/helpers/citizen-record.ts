import type { MessageInitShape } from "@bufbuild/protobuf";
import { type CitizenRecordSchema, Gender } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";

/** One CitizenRecord with every field set, nested and repeated ones included: for minimisation tests. */
export function fullCitizenRecord(): MessageInitShape<typeof CitizenRecordSchema> {
  return {
    citizenId: "10000000001",
    name: "Pema Lhamo",
    dateOfBirth: "1990-01-02",
    gender: Gender.FEMALE,
    photoRef: "p",
    address: { village: "v", gewog: "g", dzongkhag: "d" },
    household: {
      householdNumber: "000001",
      members: [
        { citizenId: "10000000001", name: "Pema Lhamo", relationship: "head" },
        { citizenId: "10000000002", name: "Karma Dorji", relationship: "spouse" },
      ],
    },
  };
}
