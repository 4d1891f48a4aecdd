import { CitizenRecordSchema } from "../../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { MedicalFitnessSchema } from "../../../proto/gen/agencies/moh/v1/health_pb.js";
import { type ExchangeClient, fetchRecord } from "./exchange-client.js";

/*
 * Journey 2, written as the transport authority's licensing system would
 * write it: the licence holder gives their citizenship ID at the counter; the
 * system confirms who they are with the civil registry and reads their
 * medical fitness from the Ministry of Health. The design asks for the
 * citizen's consent to the health record; that needs the consent service
 * (policy work), so this journey runs on a grant without consent for now.
 */
export const RENEWAL_PURPOSE = "licence-renewal";
export const RENEWAL_PAPERS = [
  "a copy of the citizenship identity card",
  "a medical fitness certificate collected from a hospital",
] as const;

export interface RenewalDecision {
  readonly holder: { name: string; dateOfBirth: string; photoRef: string };
  readonly renew: boolean;
  readonly reason: string;
  readonly classes: readonly string[];
  readonly restrictions: readonly string[];
  readonly exchangeIds: readonly string[];
  readonly noLongerBrought: readonly string[];
}

export async function licenceRenewal(
  client: ExchangeClient,
  holderId: string,
  today = new Date().toISOString().slice(0, 10),
): Promise<RenewalDecision> {
  const requestId = `renewal-${Date.now()}`;
  const [citizen, fitness] = await Promise.all([
    fetchRecord(client, CitizenRecordSchema, {
      service: "dcrc.citizen-record",
      subjectId: holderId,
      purpose: RENEWAL_PURPOSE,
      requestId,
    }),
    fetchRecord(client, MedicalFitnessSchema, {
      service: "moh.medical-fitness",
      subjectId: holderId,
      purpose: RENEWAL_PURPOSE,
      requestId,
    }),
  ]);
  const f = fitness.record;
  const current = f.validUntil >= today;
  const renew = f.fitToDrive && current;
  return {
    holder: {
      name: citizen.record.name,
      dateOfBirth: citizen.record.dateOfBirth,
      photoRef: citizen.record.photoRef,
    },
    renew,
    reason: !f.fitToDrive
      ? "the medical examination found the holder not fit to drive"
      : !current
        ? `the medical fitness certificate expired on ${f.validUntil}`
        : `fit to drive (${f.facility}, examined ${f.examinedOn}, valid until ${f.validUntil})`,
    classes: f.licenceClasses,
    restrictions: f.restrictions,
    exchangeIds: [citizen.exchangeId, fitness.exchangeId],
    noLongerBrought: [...RENEWAL_PAPERS],
  };
}

export function describeRenewal(d: RenewalDecision): string[] {
  return [
    `Driving-licence renewal: ${d.holder.name}, born ${d.holder.dateOfBirth}`,
    `  ${d.renew ? "renew" : "refer to the counter"}: ${d.reason}`,
    `  classes ${d.classes.join(", ") || "none"}${d.restrictions.length ? `; restrictions: ${d.restrictions.join(", ")}` : ""}`,
    `  exchanges: ${d.exchangeIds.join(", ")}`,
    "  The licence holder no longer had to bring:",
    ...d.noLongerBrought.map((p) => `    - ${p}`),
  ];
}
