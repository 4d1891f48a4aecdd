import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { createServiceClient } from "../../../core/rpc/index.js";
import { Consent } from "../../../proto/gen/xbus/v1/consent_pb.js";
import { Exchange } from "../../../proto/gen/xbus/v1/exchange_pb.js";
import { createPopulation } from "../population.js";
import { renewalApplicant, scholarshipApplicant } from "./applicants.js";
import { consentToRenewal, describeRenewal, licenceRenewal } from "./licence-renewal.js";
import { describeScholarship, scholarshipApplication } from "./scholarship.js";

/*
 * Runs a journey against `xbus dev`:
 *
 *   npx tsx adapters/examples/journeys/main.ts scholarship|licence-renewal --broker HOST:PORT --ca FILE
 *     --cert FILE --key FILE [--portal-cert FILE --portal-key FILE] [--subject ID]
 *
 * The broker's address and the certificates come from flags, each with an
 * environment variable for it (XBUS_BROKER, XBUS_CA, XBUS_CERT, XBUS_KEY,
 * XBUS_PORTAL_CERT, XBUS_PORTAL_KEY): `xbus dev` prints both journeys'
 * command lines with its own. The applicant, unless given, comes from the same
 * synthetic population the dev adapters serve.
 */
const USAGE =
  "usage: main.ts scholarship|licence-renewal --broker HOST:PORT --ca FILE --cert FILE --key FILE " +
  "[--portal-cert FILE --portal-key FILE] [--subject ID]\n";
/** Each option, and the environment variable that stands in for it. */
const OPTIONS = {
  broker: "XBUS_BROKER",
  ca: "XBUS_CA",
  cert: "XBUS_CERT",
  key: "XBUS_KEY",
  "portal-cert": "XBUS_PORTAL_CERT",
  "portal-key": "XBUS_PORTAL_KEY",
} as const;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      ...Object.fromEntries(Object.keys(OPTIONS).map((o) => [o, { type: "string" as const }])),
      subject: { type: "string" },
    },
  });
  const name = positionals[0];
  if (name !== "scholarship" && name !== "licence-renewal") {
    process.stderr.write(USAGE);
    return 2;
  }
  const option = (o: keyof typeof OPTIONS): string | undefined =>
    ((values as Record<string, string | undefined>)[o] ?? process.env[OPTIONS[o]]) || undefined;
  const required = (o: keyof typeof OPTIONS): string => {
    const v = option(o);
    if (v) return v;
    process.stderr.write(`main.ts: --${o} (or ${OPTIONS[o]}) is required\n${USAGE}`);
    process.exit(2);
  };
  const broker = required("broker");
  const ca = readFileSync(required("ca"));
  const credentialsOf = (cert: string, key: string) =>
    credentials.createSsl(ca, readFileSync(key), readFileSync(cert));
  const system = credentialsOf(required("cert"), required("key"));
  const population = createPopulation();
  const subject =
    values.subject ??
    (name === "scholarship" ? scholarshipApplicant(population) : renewalApplicant(population));
  if (!subject) throw new Error("no applicant found in the population");
  const print = (lines: string[]) => {
    for (const line of lines) process.stdout.write(`${line}\n`);
  };

  if (name === "scholarship") {
    const client = createServiceClient(Exchange, broker, system);
    try {
      print(describeScholarship(await scholarshipApplication(client, subject)));
    } finally {
      client.close();
    }
    return 0;
  }
  const portal = createServiceClient(
    Consent,
    broker,
    credentialsOf(required("portal-cert"), required("portal-key")),
  );
  const licensing = createServiceClient(Exchange, broker, system);
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

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`journey failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
