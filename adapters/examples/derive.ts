import { createHash } from "node:crypto";
import { type Citizen, type Population, prng } from "./population.js";

/**
 * What each example agency knows about a citizen is derived from the
 * population's seed, the citizen's ID and the agency's own salt: the same
 * citizen always has the same vaccinations, marks and licence, on every
 * machine, without any agency storing a copy of another's data.
 */
export function citizenRandom(population: Population, citizen: Citizen, salt: string): () => number {
  const digest = createHash("sha256").update(`${population.seed}\n${salt}\n${citizen.id}`).digest();
  return prng(digest.readUInt32BE(0));
}

/** Whole years between a YYYY-MM-DD birth date and the population's census date. */
export function ageOn(citizen: Citizen, asOf: string): number {
  const [by, bm, bd] = citizen.dateOfBirth.split("-").map(Number) as [number, number, number];
  const [y, m, d] = asOf.split("-").map(Number) as [number, number, number];
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

/** YYYY-MM-DD `days` after a YYYY-MM-DD date. */
export function addDays(date: string, days: number): string {
  const t = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

/** YYYY-MM-DD `years` after a YYYY-MM-DD date (28 Feb stays a valid date). */
export function addYears(date: string, years: number): string {
  return `${Number(date.slice(0, 4)) + years}${date.slice(4)}`;
}

export const pickFrom =
  (rand: () => number) =>
  <T>(xs: readonly T[]): T =>
    xs[Math.floor(rand() * xs.length)] as T;
