import { DrivingLicenceSchema } from "../../../proto/gen/agencies/rsta/v1/transport_pb.js";
import { type AdapterDefinition, NOT_FOUND, recordService } from "../../sdk/index.js";
import type { Population } from "../population.js";
import { drivingLicenceOf } from "./licence-records.js";

/** The Road Safety and Transport Authority: driving licences, over the synthetic population. */
export function rstaAdapter(population: Population): AdapterDefinition {
  const sample = population.citizens.find((c) => drivingLicenceOf(population, c));
  return {
    agency: "rsta",
    services: {
      "driving-licence": recordService(
        DrivingLicenceSchema,
        async ({ subjectId }) => {
          const c = population.byId.get(subjectId);
          return (c && drivingLicenceOf(population, c)) ?? NOT_FOUND;
        },
        { sampleSubjectId: sample?.id },
      ),
    },
  };
}
