import type { ServiceClient } from "../../../core/rpc/index.js";
import { CitizenRecordSchema } from "../../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { MedicalFitnessSchema } from "../../../proto/gen/agencies/moh/v1/health_pb.js";
import type { Consent } from "../../../proto/gen/xbus/v1/consent_pb.js";
import { type ExchangeClient, fetchRecord } from "./exchange-client.js";

/*
 * Journey 2, written as the transport authority's licensing system would
 * write it: the licence holder gives their citizenship ID at the counter and,
 * on the citizen portal, consents to the licensing system reading their
 * medical fitness for this renewal. The system confirms who they are with the
 * civil registry and reads the fitness certificate from the Ministry of
 * Health, naming the consent.
 */
export const RENEWAL_PURPOSE = "licence-renewal";
export const LICENSING_SYSTEM = "spiffe://gov.bt/agency/rsta/system/licensing";
export const RENEWAL_PAPERS = [
  "a copy of the citizenship identity card",
  "a medical fitness certificate collected from a hospital",
] as const;

export type ConsentClient = ServiceClient<typeof Consent.method>;

/**
 * What the citizen does on the portal (the consent authority): lets the
 * licensing system read their medical fitness for a licence renewal, for one
 * hour. Returns the consent id the licensing system names in its request.
 */
export async function consentToRenewal(portal: ConsentClient, holderId: string): Promise<string> {
  const { consent } = await portal.grant(
    {
      subjectId: holderId,
      consumer: LICENSING_SYSTEM,
      services: ["moh.medical-fitness"],
      purpose: RENEWAL_PURPOSE,
      notAfter: BigInt(Date.now() + 3_600_000),
    },
    { deadline: Date.now() + 10_000 },
  );
  if (!consent?.id) throw new Error("the portal recorded no consent");
  return consent.id;
}

export interface RenewalDecision {
  readonly holder: { name: string; dateOfBirth: string; photoRef: string };
  readonly renew: boolean;
  readonly reason: string;
  /** YYYY-MM-DD the certificate's validity was judged against (RenewalOptions.today). */
  readonly judgedOn: string;
  readonly classes: readonly string[];
  readonly restrictions: readonly string[];
  readonly consentId: string;
  readonly exchangeIds: readonly string[];
  readonly noLongerBrought: readonly string[];
}

export interface RenewalOptions {
  /** The consent the holder gave on the portal (consentToRenewal). */
  consentId: string;
  /** YYYY-MM-DD the fitness certificate must still be valid on. Default today. */
  today?: string;
  /**
   * Why `today` is not today, said beside the date in describeRenewal's output, e.g. that the
   * records are synthetic and dated on their census day: a reader would read an older "valid until"
   * as an expired certificate renewed.
   */
  todayIs?: string;
}

export async function licenceRenewal(
  client: ExchangeClient,
  holderId: string,
  o: RenewalOptions,
): Promise<RenewalDecision> {
  const today = o.today ?? new Date().toISOString().slice(0, 10);
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
      consentId: o.consentId,
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
    judgedOn: o.todayIs ? `${today} (${o.todayIs})` : today,
    reason: !f.fitToDrive
      ? "the medical examination found the holder not fit to drive"
      : !current
        ? `the medical fitness certificate expired on ${f.validUntil}`
        : `fit to drive (examined ${f.examinedOn}, valid until ${f.validUntil})`,
    classes: f.licenceClasses,
    restrictions: f.restrictions,
    consentId: o.consentId,
    exchangeIds: [citizen.exchangeId, fitness.exchangeId],
    noLongerBrought: [...RENEWAL_PAPERS],
  };
}

export function describeRenewal(d: RenewalDecision): string[] {
  return [
    `Driving-licence renewal: ${d.holder.name}, born ${d.holder.dateOfBirth}`,
    `  ${d.renew ? "renew" : "refer to the counter"}: ${d.reason}`,
    `  judged as of ${d.judgedOn}`,
    `  classes ${d.classes.join(", ") || "none"}${d.restrictions.length ? `; restrictions: ${d.restrictions.join(", ")}` : ""}`,
    `  health record read with consent ${d.consentId}, given on the citizen portal`,
    `  exchanges: ${d.exchangeIds.join(", ")}`,
    "  The licence holder no longer had to bring:",
    ...d.noLongerBrought.map((p) => `    - ${p}`),
  ];
}
