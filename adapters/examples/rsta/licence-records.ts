import { create } from "@bufbuild/protobuf";
import {
  type DrivingLicence,
  DrivingLicenceSchema,
  LicenceStatus,
} from "../../../proto/gen/agencies/rsta/v1/transport_pb.js";
import { addDays, addYears, ageOn, citizenRandom, pickFrom } from "../derive.js";
import type { Citizen, Population } from "../population.js";

const OFFICES = ["Thimphu", "Phuentsholing", "Gelephu", "Samdrup Jongkhar", "Mongar", "Bumthang"];

/**
 * A driving licence for a share of adults: issued or last renewed within the
 * last six years for five years, so some have expired and wait for renewal;
 * a few are suspended.
 */
export function drivingLicenceOf(population: Population, c: Citizen): DrivingLicence | undefined {
  if (ageOn(c, population.asOf) < 18) return undefined;
  const rand = citizenRandom(population, c, "rsta.driving-licence");
  if (rand() >= 0.5) return undefined;
  const pick = pickFrom(rand);
  const earliest = addYears(c.dateOfBirth, 18);
  let issuedOn = addDays(population.asOf, -1 - Math.floor(rand() * 6 * 365));
  if (issuedOn < earliest) issuedOn = earliest;
  const expiresOn = addYears(issuedOn, 5);
  const suspended = rand() < 0.03;
  const status = suspended
    ? LicenceStatus.SUSPENDED
    : expiresOn < population.asOf
      ? LicenceStatus.EXPIRED
      : LicenceStatus.VALID;
  return create(DrivingLicenceSchema, {
    citizenId: c.id,
    licenceNumber: `BT${String(Math.floor(rand() * 1e7)).padStart(7, "0")}`,
    classes: rand() < 0.2 ? ["LMV", "HMV"] : rand() < 0.4 ? ["LMV", "TW"] : ["LMV"],
    issuedOn,
    expiresOn,
    status,
    issuingOffice: `RSTA ${pick(OFFICES)}`,
  });
}
