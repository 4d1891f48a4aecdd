import { CitizenRecordSchema, Gender } from "../../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { type AdapterDefinition, NOT_FOUND, recordService } from "../../sdk/index.js";
import type { Population } from "../population.js";

/**
 * The Department of Civil Registration and Census: the authoritative citizen
 * record, over the synthetic population.
 */
export function dcrcAdapter(population: Population): AdapterDefinition {
  return {
    agency: "dcrc",
    services: {
      "citizen-record": recordService(
        CitizenRecordSchema,
        async ({ subjectId }) => {
          const c = population.byId.get(subjectId);
          if (!c) return NOT_FOUND;
          const household = population.households.get(c.householdNumber) ?? [];
          return {
            citizenId: c.id,
            name: c.name,
            dateOfBirth: c.dateOfBirth,
            gender: c.gender === "female" ? Gender.FEMALE : Gender.MALE,
            household: {
              householdNumber: c.householdNumber,
              members: household.map((m) => ({
                citizenId: m.id,
                name: m.name,
                relationship: m.relationship,
              })),
            },
            address: { village: c.village, gewog: c.gewog, dzongkhag: c.dzongkhag },
            photoRef: `dcrc-photo:${c.id.slice(-6)}-${c.householdNumber}`,
          };
        },
        { sampleSubjectId: population.citizens[0]?.id },
      ),
    },
  };
}
