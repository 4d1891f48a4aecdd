import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { type DevJson, readDevJson } from "../../../cli/dev/dev-json.js";
import { createServiceClient } from "../../../core/grpc.js";
import { Consent } from "../../../proto/gen/xbus/v1/consent_pb.js";
import { Exchange } from "../../../proto/gen/xbus/v1/exchange_pb.js";
import { createPopulation } from "../population.js";
import { renewalApplicant, scholarshipApplicant } from "./applicants.js";
import { consentToRenewal, describeRenewal, LICENSING_SYSTEM, licenceRenewal } from "./licence-renewal.js";
import { describeScholarship, scholarshipApplication } from "./scholarship.js";

/*
 * Runs a journey against `xbus dev`:
 *
 *   npx tsx adapters/examples/journeys/main.ts scholarship|licence-renewal [--dev-dir DIR] [--subject ID]
 *
 * Certificates and the broker's address come from dev.json; the applicant,
 * unless given, from the same synthetic population the dev adapters serve.
 */
const SCHOLARSHIPS = "spiffe://gov.bt/agency/moe/system/scholarships";
const PORTAL = "spiffe://gov.bt/agency/govtech/system/citizen-portal";

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { "dev-dir": { type: "string" }, subject: { type: "string" } },
  });
  const name = positionals[0];
  if (name !== "scholarship" && name !== "licence-renewal") {
    process.stderr.write("usage: main.ts scholarship|licence-renewal [--dev-dir DIR] [--subject ID]\n");
    return 2;
  }
  const dev = readDevJson(values["dev-dir"]);
  const population = createPopulation();
  const subject =
    values.subject ??
    (name === "scholarship" ? scholarshipApplicant(population) : renewalApplicant(population));
  if (!subject) throw new Error("no applicant found in the population");
  const print = (lines: string[]) => {
    for (const line of lines) process.stdout.write(`${line}\n`);
  };

  if (name === "scholarship") {
    const client = createServiceClient(Exchange, brokerOf(dev), credentialsOf(dev, SCHOLARSHIPS));
    try {
      print(describeScholarship(await scholarshipApplication(client, subject)));
    } finally {
      client.close();
    }
    return 0;
  }
  const portal = createServiceClient(Consent, brokerOf(dev), credentialsOf(dev, PORTAL));
  const licensing = createServiceClient(Exchange, brokerOf(dev), credentialsOf(dev, LICENSING_SYSTEM));
  try {
    const consentId = await consentToRenewal(portal, subject);
    // The synthetic records are dated from the population's census date, not today: judged on that date,
    // and the output says so, or a "valid until" before today would read as an expired certificate renewed.
    const decision = await licenceRenewal(licensing, subject, {
      consentId,
      today: population.asOf,
      todayIs: "the date the synthetic records are written for, not today",
    });
    print(describeRenewal(decision));
  } finally {
    portal.close();
    licensing.close();
  }
  return 0;
}

function brokerOf(dev: DevJson): string {
  if (!dev.broker) throw new Error("no dev.json with the broker's address: run `xbus dev` first");
  return dev.broker;
}

function credentialsOf(dev: DevJson, spiffeId: string) {
  const me = dev.consumers?.find((c) => c.spiffe_id === spiffeId);
  if (!dev.ca || !me)
    throw new Error(`dev.json lists no certificate for ${spiffeId}: is \`xbus dev\` current?`);
  return credentials.createSsl(readFileSync(dev.ca), readFileSync(me.key), readFileSync(me.cert));
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`journey failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
