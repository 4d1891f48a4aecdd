import { examResultsOf } from "../moe/exam-records.js";
import { medicalFitnessOf } from "../moh/health-records.js";
import type { Population } from "../population.js";
import { drivingLicenceOf } from "../rsta/licence-records.js";

/*
 * Who walks up to the counter in the runnable journeys: citizens of the
 * synthetic population that the example agencies hold records for. A real
 * consumer system gets the ID from the application form.
 */

/** A recent school leaver (BHSEC in the last two years) with 60 % or more. */
export function scholarshipApplicant(population: Population): string | undefined {
  const recent = Number(population.asOf.slice(0, 4)) - 2;
  return population.citizens.find((c) =>
    examResultsOf(population, c)?.results.some(
      (r) => r.exam === "BHSEC" && r.year >= recent && r.percentage >= 60,
    ),
  )?.id;
}

/** A licence holder with a medical fitness certificate that finds them fit to drive. */
export function renewalApplicant(population: Population): string | undefined {
  return population.citizens.find(
    (c) => drivingLicenceOf(population, c) && medicalFitnessOf(population, c)?.fitToDrive,
  )?.id;
}
