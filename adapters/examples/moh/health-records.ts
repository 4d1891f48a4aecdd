import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type MedicalFitness,
  MedicalFitnessSchema,
  type VaccinationRecord,
  VaccinationRecordSchema,
  type VaccinationSchema,
} from "../../../proto/gen/agencies/moh/v1/health_pb.js";
import { addDays, addYears, ageOn, citizenRandom, pickFrom } from "../derive.js";
import type { Citizen, Population } from "../population.js";

/** Facilities of the synthetic health system: a hospital per dzongkhag, a BHU per gewog. */
const hospital = (c: Citizen) => `${c.dzongkhag} Hospital`;
const bhu = (c: Citizen) => `${c.gewog} BHU`;

/**
 * Vaccinations by age: the childhood schedule for those born since 1980 (when
 * the programme reached every gewog, roughly), HPV for girls from 2010, and
 * COVID-19 in 2021 for those who were adults then.
 */
export function vaccinationsOf(population: Population, c: Citizen): VaccinationRecord {
  const rand = citizenRandom(population, c, "moh.vaccination");
  const birth = c.dateOfBirth;
  const asOf = population.asOf;
  const out: MessageInitShape<typeof VaccinationSchema>[] = [];
  const give = (vaccine: string, dose: number, date: string, facility: string) => {
    if (date < asOf) out.push({ vaccine, doseNumber: dose, date, facility });
  };
  const birthYear = Number(birth.slice(0, 4));
  if (birthYear >= 1980) {
    give("BCG", 1, addDays(birth, 1), hospital(c));
    for (let dose = 1; dose <= 3; dose++)
      give("Pentavalent", dose, addDays(birth, 42 + 28 * (dose - 1)), bhu(c));
    give("MMR", 1, addDays(birth, 274), bhu(c));
    give("MMR", 2, addDays(birth, 730), bhu(c));
  }
  if (c.gender === "female" && birthYear >= 1998) {
    const at12 = addYears(birth, 12);
    if (at12 >= "2010-01-01") give("HPV", 1, at12, bhu(c));
  }
  if (ageOn(c, "2021-03-27") >= 18 && rand() < 0.93) {
    give("COVID-19", 1, addDays("2021-03-27", Math.floor(rand() * 10)), hospital(c));
    give("COVID-19", 2, addDays("2021-07-20", Math.floor(rand() * 7)), hospital(c));
  }
  return create(VaccinationRecordSchema, { citizenId: c.id, vaccinations: out });
}

const RESTRICTIONS = ["corrective lenses", "hearing aid", "daylight driving only"];

/**
 * A medical fitness certificate for adults who were examined for a licence:
 * most of those under 70, valid one year from the examination.
 */
export function medicalFitnessOf(population: Population, c: Citizen): MedicalFitness | undefined {
  const age = ageOn(c, population.asOf);
  if (age < 18 || age >= 70) return undefined;
  const rand = citizenRandom(population, c, "moh.medical-fitness");
  if (rand() >= 0.7) return undefined;
  const pick = pickFrom(rand);
  const examinedOn = addDays(population.asOf, -1 - Math.floor(rand() * 300));
  const fit = rand() < 0.95;
  const classes = fit ? (rand() < 0.25 ? ["LMV", "HMV"] : rand() < 0.5 ? ["LMV", "TW"] : ["LMV"]) : [];
  return create(MedicalFitnessSchema, {
    citizenId: c.id,
    fitToDrive: fit,
    licenceClasses: classes,
    restrictions: fit && rand() < 0.2 ? [pick(RESTRICTIONS)] : [],
    examinedOn,
    validUntil: addYears(examinedOn, 1),
    facility: hospital(c),
  });
}
