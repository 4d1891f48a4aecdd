import { ExamResultsSchema } from "../../../proto/gen/agencies/moe/v1/education_pb.js";
import { type AdapterDefinition, NOT_FOUND, recordService } from "../../sdk/index.js";
import type { Population } from "../population.js";
import { examResultsOf } from "./exam-records.js";

/** The Ministry of Education: BCSE and BHSEC results, over the synthetic population. */
export function moeAdapter(population: Population): AdapterDefinition {
  const sample = population.citizens.find((c) => examResultsOf(population, c));
  return {
    agency: "moe",
    services: {
      "exam-results": recordService(
        ExamResultsSchema,
        async ({ subjectId }) => {
          const c = population.byId.get(subjectId);
          return (c && examResultsOf(population, c)) ?? NOT_FOUND;
        },
        { sampleSubjectId: sample?.id },
      ),
    },
  };
}
