import type { CitizenRecord } from "../../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { CitizenRecordSchema } from "../../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { type ExamResults, ExamResultsSchema } from "../../../proto/gen/agencies/moe/v1/education_pb.js";
import { type ExchangeClient, fetchRecord } from "./exchange-client.js";

/*
 * Journey 1, written as the Ministry of Education's scholarship system would
 * write it: the applicant gives their citizenship ID on the form; the system
 * fetches who they are from the civil registry and their marks from the
 * examinations board, instead of asking for certified copies.
 */
export const SCHOLARSHIP_PURPOSE = "scholarship-eligibility";
/** What applicants used to attach to the form. */
export const SCHOLARSHIP_PAPERS = [
  "an attested copy of the citizenship identity card",
  "a census (household) record from the dzongkhag office",
  "attested BCSE and BHSEC mark sheets",
] as const;
const MIN_BHSEC_PERCENT = 60;

export interface ScholarshipDecision {
  readonly applicant: { name: string; dzongkhag: string; householdMembers: number };
  readonly bhsecPercentage: number | undefined;
  readonly eligible: boolean;
  readonly reason: string;
  readonly exchangeIds: readonly string[];
  readonly noLongerBrought: readonly string[];
}

export async function scholarshipApplication(
  client: ExchangeClient,
  applicantId: string,
): Promise<ScholarshipDecision> {
  const requestId = `scholarship-${Date.now()}`;
  const [citizen, exams] = await Promise.all([
    fetchRecord(client, CitizenRecordSchema, {
      service: "dcrc.citizen-record",
      subjectId: applicantId,
      purpose: SCHOLARSHIP_PURPOSE,
      fields: ["name", "date_of_birth", "address", "household.members.name"],
      requestId,
    }),
    fetchRecord(client, ExamResultsSchema, {
      service: "moe.exam-results",
      subjectId: applicantId,
      purpose: SCHOLARSHIP_PURPOSE,
      requestId,
    }),
  ]);
  return decide(citizen.record, exams.record, [citizen.exchangeId, exams.exchangeId]);
}

function decide(c: CitizenRecord, e: ExamResults, exchangeIds: string[]): ScholarshipDecision {
  const bhsec = e.results.filter((r) => r.exam === "BHSEC").sort((a, b) => b.year - a.year)[0];
  const eligible = bhsec !== undefined && bhsec.percentage >= MIN_BHSEC_PERCENT;
  return {
    applicant: {
      name: c.name,
      dzongkhag: c.address?.dzongkhag ?? "",
      householdMembers: c.household?.members.length ?? 0,
    },
    bhsecPercentage: bhsec?.percentage,
    eligible,
    reason: !bhsec
      ? "no BHSEC result on record"
      : eligible
        ? `BHSEC ${bhsec.year}: ${bhsec.percentage} % (at least ${MIN_BHSEC_PERCENT} % required)`
        : `BHSEC ${bhsec.year}: ${bhsec.percentage} %, below ${MIN_BHSEC_PERCENT} %`,
    exchangeIds,
    noLongerBrought: [...SCHOLARSHIP_PAPERS],
  };
}

export function describeScholarship(d: ScholarshipDecision): string[] {
  return [
    `Scholarship application: ${d.applicant.name}, ${d.applicant.dzongkhag}, household of ${d.applicant.householdMembers}`,
    `  ${d.eligible ? "eligible" : "not eligible"}: ${d.reason}`,
    `  exchanges: ${d.exchangeIds.join(", ")}`,
    "  The applicant no longer had to bring:",
    ...d.noLongerBrought.map((p) => `    - ${p}`),
  ];
}
