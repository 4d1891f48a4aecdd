import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { renewalApplicant, scholarshipApplicant } from "../../adapters/examples/journeys/applicants.js";
import { consentToRenewal, licenceRenewal } from "../../adapters/examples/journeys/licence-renewal.js";
import { scholarshipApplication } from "../../adapters/examples/journeys/scholarship.js";
import { createServiceClient } from "../../core/rpc/index.js";
import { Consent } from "../../proto/gen/xbus/v1/consent_pb.js";
import { DEV_LICENSING, DEV_PORTAL } from "../../stack/index.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * The SDK's one switch: the same adapter definitions run inside the
 * connector's process (no gRPC hop) and the journeys give the same answers.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ inProcessAdapter: true });
});
afterAll(async () => {
  await stack?.close();
});

it("runs no adapter servers", () => {
  expect(stack.adapters.map((a) => [a.agency, a.address])).toEqual([
    ["dcrc", undefined],
    ["moh", undefined],
    ["moe", undefined],
    ["rsta", undefined],
  ]);
});

it("serves both journeys with the adapters in process", async () => {
  const applicant = scholarshipApplicant(stack.population) ?? "";
  const s = await scholarshipApplication(stack.client(), applicant);
  expect(s.applicant.name).toBe(stack.population.byId.get(applicant)?.name);
  expect(s.eligible).toBe(true);

  const holder = renewalApplicant(stack.population) ?? "";
  const licensing = stack.consumers.find((c) => c.spiffeId === DEV_LICENSING) ?? null;
  const portal = stack.consumers.find((c) => c.spiffeId === DEV_PORTAL);
  if (!portal) throw new Error("no citizen portal");
  const consents = createServiceClient(
    Consent,
    stack.brokerAddress,
    credentials.createSsl(Buffer.from(stack.ca.certPem), Buffer.from(portal.key), Buffer.from(portal.cert)),
  );
  const consentId = await consentToRenewal(consents, holder).finally(() => consents.close());
  const r = await licenceRenewal(stack.client(licensing), holder, {
    consentId,
    today: stack.population.asOf,
  });
  expect(r.holder.name).toBe(stack.population.byId.get(holder)?.name);
  expect(r.renew).toBe(true);
});
