import {
  MedicalFitnessSchema,
  VaccinationRecordSchema,
} from "../../../proto/gen/agencies/moh/v1/health_pb.js";
import { type AdapterDefinition, NOT_FOUND, recordService } from "../../sdk/index.js";
import type { Population } from "../population.js";
import { medicalFitnessOf, vaccinationsOf } from "./health-records.js";

/**
 * The Ministry of Health: vaccination records and medical fitness
 * certificates, over the synthetic population.
 */
export function mohAdapter(population: Population): AdapterDefinition {
  const fitnessSample = population.citizens.find((c) => medicalFitnessOf(population, c));
  const vaccinationSample = population.citizens.find(
    (c) => vaccinationsOf(population, c).vaccinations.length > 0,
  );
  return {
    agency: "moh",
    services: {
      "vaccination-record": recordService(
        VaccinationRecordSchema,
        async ({ subjectId }) => {
          const c = population.byId.get(subjectId);
          if (!c) return NOT_FOUND;
          const record = vaccinationsOf(population, c);
          return record.vaccinations.length > 0 ? record : NOT_FOUND;
        },
        { sampleSubjectId: vaccinationSample?.id },
      ),
      "medical-fitness": recordService(
        MedicalFitnessSchema,
        async ({ subjectId }) => {
          const c = population.byId.get(subjectId);
          return (c && medicalFitnessOf(population, c)) ?? NOT_FOUND;
        },
        { sampleSubjectId: fitnessSample?.id },
      ),
    },
  };
}
