import { equals } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DrivingLicenceSchema, LicenceStatus } from "../../proto/gen/agencies/rsta/v1/transport_pb.js";
import { ageOn } from "./derive.js";
import { examResultsOf } from "./moe/exam-records.js";
import { medicalFitnessOf, vaccinationsOf } from "./moh/health-records.js";
import { createPopulation } from "./population.js";
import { drivingLicenceOf } from "./rsta/licence-records.js";

/* The example agencies agree about the same citizens, and say the same on every run. */
const population = createPopulation({ size: 2000 });
const again = createPopulation({ size: 2000 });

describe("the example agencies over one population", () => {
  it("derive the same records from the same seed", () => {
    for (const [i, c] of population.citizens.entries()) {
      const d = again.citizens[i];
      if (!d) throw new Error("populations differ in size");
      const a = drivingLicenceOf(population, c);
      const b = drivingLicenceOf(again, d);
      expect(a === undefined ? b === undefined : b !== undefined && equals(DrivingLicenceSchema, a, b)).toBe(
        true,
      );
      expect(examResultsOf(population, c)?.results.map((r) => r.percentage)).toEqual(
        examResultsOf(again, d)?.results.map((r) => r.percentage),
      );
    }
  });

  it("keep records consistent with each citizen's age", () => {
    let licences = 0;
    let expired = 0;
    let exams = 0;
    for (const c of population.citizens) {
      const age = ageOn(c, population.asOf);
      const licence = drivingLicenceOf(population, c);
      if (licence) {
        licences++;
        expect(age).toBeGreaterThanOrEqual(18);
        expect(licence.issuedOn >= c.dateOfBirth).toBe(true);
        if (licence.status === LicenceStatus.EXPIRED) expired++;
      }
      if (medicalFitnessOf(population, c)) expect(age).toBeGreaterThanOrEqual(18);
      const e = examResultsOf(population, c);
      if (e) {
        exams++;
        for (const r of e.results) {
          expect(r.year - Number(c.dateOfBirth.slice(0, 4))).toBe(r.exam === "BCSE" ? 16 : 18);
          expect(r.year).toBeLessThan(2026);
        }
      }
      for (const v of vaccinationsOf(population, c).vaccinations) {
        expect(v.date >= c.dateOfBirth && v.date < population.asOf).toBe(true);
      }
    }
    // Enough of each for the journeys and the kit to find someone.
    expect(licences).toBeGreaterThan(100);
    expect(expired).toBeGreaterThan(0);
    expect(exams).toBeGreaterThan(100);
  });
});
