import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renewalApplicant, scholarshipApplicant } from "../../adapters/examples/journeys/applicants.js";
import {
  consentToRenewal,
  licenceRenewal,
  RENEWAL_PAPERS,
} from "../../adapters/examples/journeys/licence-renewal.js";
import { SCHOLARSHIP_PAPERS, scholarshipApplication } from "../../adapters/examples/journeys/scholarship.js";
import { examResultsOf } from "../../adapters/examples/moe/exam-records.js";
import { medicalFitnessOf } from "../../adapters/examples/moh/health-records.js";
import { createServiceClient } from "../../core/rpc/index.js";
import { Consent } from "../../proto/gen/xbus/v1/consent_pb.js";
import { DEV_LICENSING, DEV_PORTAL, journeyArgs } from "../../stack/index.js";
import { failure, startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * The two cross-agency journeys, end to end: consumer system → broker (mutual
 * TLS, policy) → NATS → each provider's connector → its adapter over gRPC, and
 * back, with the same synthetic citizens in every agency.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  for (const p of portals) p.close();
  await stack?.close();
});

/** The citizen portal, the consent authority, as a Consent client. */
const portal = () => {
  const p = stack.consumers.find((x) => x.spiffeId === DEV_PORTAL);
  if (!p) throw new Error("no citizen portal in the stack");
  const c = createServiceClient(
    Consent,
    stack.brokerAddress,
    credentials.createSsl(Buffer.from(stack.ca.certPem), Buffer.from(p.key), Buffer.from(p.cert)),
  );
  portals.push(c);
  return c;
};
const portals: { close(): void }[] = [];

const licensing = () => {
  const c = stack.consumers.find((x) => x.spiffeId === DEV_LICENSING);
  if (!c) throw new Error("no licensing consumer in the stack");
  return c;
};

describe("scholarship application: citizen record + exam results", () => {
  it("decides from the civil registry and the examinations board, without papers", async () => {
    const id = scholarshipApplicant(stack.population);
    if (!id) throw new Error("no applicant");
    const before = stack.outcomes.length;
    const d = await scholarshipApplication(stack.client(), id);
    const person = stack.population.byId.get(id);
    if (!person) throw new Error("applicant not in the population");
    const bhsec = examResultsOf(stack.population, person)?.results.find((r) => r.exam === "BHSEC");
    expect(d.applicant.name).toBe(person.name);
    expect(d.applicant.dzongkhag).toBe(person.dzongkhag);
    expect(d.applicant.householdMembers).toBe(
      stack.population.households.get(person.householdNumber)?.length,
    );
    expect(d.bhsecPercentage).toBe(bhsec?.percentage);
    expect(d.eligible).toBe(true);
    expect(d.noLongerBrought).toEqual([...SCHOLARSHIP_PAPERS]);
    const outcomes = stack.outcomes.slice(before);
    expect(outcomes.map((o) => [o.service, o.status, o.matchedGrants[0]]).sort()).toEqual([
      ["dcrc.citizen-record", "OK", "moe-scholarships-citizen-record"],
      ["moe.exam-results", "OK", "moe-scholarships-exam-results"],
    ]);
    expect(outcomes.map((o) => o.exchangeId).sort()).toEqual([...d.exchangeIds].sort());
  });

  it("the scholarship system cannot read health records", async () => {
    const id = scholarshipApplicant(stack.population) ?? "";
    await expect(
      stack
        .client()
        .fetch(
          { service: "moh.medical-fitness", subjectId: id, purpose: "scholarship-eligibility" },
          { deadline: Date.now() + 5000 },
        ),
    ).rejects.toMatchObject({ code: 7 });
  });
});

describe("driving-licence renewal: citizen record + medical fitness", () => {
  it("needs the holder's consent to read the health record", async () => {
    const id = renewalApplicant(stack.population) ?? "";
    const err = await failure(
      stack
        .client(licensing())
        .fetch(
          { service: "moh.medical-fitness", subjectId: id, purpose: "licence-renewal" },
          { deadline: Date.now() + 5000 },
        ),
    );
    expect(err.reason).toBe("CONSENT_REQUIRED");
  });

  it("renews on the health ministry's record, with consent given on the portal, without a paper certificate", async () => {
    const id = renewalApplicant(stack.population);
    if (!id) throw new Error("no licence holder");
    const holder = stack.population.byId.get(id);
    if (!holder) throw new Error("holder not in the population");
    const fitness = medicalFitnessOf(stack.population, holder);
    const consentId = await consentToRenewal(portal(), id);
    const before = stack.outcomes.length;
    const d = await licenceRenewal(stack.client(licensing()), id, {
      consentId,
      today: stack.population.asOf,
    });
    expect(d.holder.name).toBe(stack.population.byId.get(id)?.name);
    expect(d.holder.photoRef).not.toBe("");
    expect(d.renew).toBe(true);
    expect(d.judgedOn).toBe(stack.population.asOf);
    expect(d.classes).toEqual(fitness?.licenceClasses);
    expect(d.noLongerBrought).toEqual([...RENEWAL_PAPERS]);
    const outcomes = stack.outcomes.slice(before);
    expect(outcomes.map((o) => [o.service, o.status, o.consumer, o.matchedGrants[0]]).sort()).toEqual([
      ["dcrc.citizen-record", "OK", DEV_LICENSING, "rsta-licensing-citizen-record"],
      ["moh.medical-fitness", "OK", DEV_LICENSING, "rsta-licensing-medical-fitness"],
    ]);
    expect(outcomes.find((o) => o.service === "moh.medical-fitness")?.consentId).toBe(consentId);
  });

  it("the licensing system cannot read vaccination records", async () => {
    const id = renewalApplicant(stack.population) ?? "";
    await expect(
      stack
        .client(licensing())
        .fetch(
          { service: "moh.vaccination-record", subjectId: id, purpose: "licence-renewal" },
          { deadline: Date.now() + 5000 },
        ),
    ).rejects.toMatchObject({ code: 7 });
  });
});

describe("the runnable journeys", () => {
  it.each([
    ["scholarship", "The applicant no longer had to bring:", SCHOLARSHIP_PAPERS[2]],
    ["licence-renewal", "The licence holder no longer had to bring:", RENEWAL_PAPERS[1]],
  ] as const)("%s prints what the citizen no longer had to bring", async (journey, heading, paper) => {
    const main = join(import.meta.dirname, "../../adapters/examples/journeys/main.ts");
    const { stdout } = await promisify(execFile)(process.execPath, [
      "--import",
      "tsx",
      main,
      ...journeyArgs(stack, journey),
    ]);
    expect(stdout).toContain(heading);
    expect(stdout).toContain(paper);
    // The licence is judged on the synthetic records' date, and says so: its "valid until" is before today.
    if (journey === "licence-renewal")
      expect(stdout).toContain(
        `judged as of ${stack.population.asOf} (the date the synthetic records are written for, not today)`,
      );
  });
});
