import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { readDevJson } from "../../../cli/dev/dev-json.js";
import { createServiceClient } from "../../../core/grpc.js";
import { Exchange } from "../../../proto/gen/xbus/v1/exchange_pb.js";
import { createPopulation } from "../population.js";
import { renewalApplicant, scholarshipApplicant } from "./applicants.js";
import { describeRenewal, licenceRenewal } from "./licence-renewal.js";
import { describeScholarship, scholarshipApplication } from "./scholarship.js";

/*
 * Runs a journey against `xbus dev`:
 *
 *   npx tsx adapters/examples/journeys/main.ts scholarship|licence-renewal [--dev-dir DIR] [--subject ID]
 *
 * Certificates and the broker's address come from dev.json; the applicant,
 * unless given, from the same synthetic population the dev adapters serve.
 */
const JOURNEYS = {
  scholarship: {
    consumer: "spiffe://gov.bt/agency/moe/system/scholarships",
    pick: scholarshipApplicant,
    run: async (c: Parameters<typeof scholarshipApplication>[0], id: string) =>
      describeScholarship(await scholarshipApplication(c, id)),
  },
  "licence-renewal": {
    consumer: "spiffe://gov.bt/agency/rsta/system/licensing",
    pick: renewalApplicant,
    // The synthetic records are dated from the population's census date, not today.
    run: async (c: Parameters<typeof licenceRenewal>[0], id: string) =>
      describeRenewal(await licenceRenewal(c, id, createPopulation().asOf)),
  },
} as const;

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
  const journey = JOURNEYS[name];
  const dev = readDevJson(values["dev-dir"]);
  if (!dev.broker || !dev.ca) throw new Error("no dev.json with broker and ca: run `xbus dev` first");
  const me = dev.consumers?.find((c) => c.spiffe_id === journey.consumer);
  if (!me) throw new Error(`dev.json lists no certificate for ${journey.consumer}: is \`xbus dev\` current?`);
  const subject = values.subject ?? journey.pick(createPopulation());
  if (!subject) throw new Error("no applicant found in the population");
  const client = createServiceClient(
    Exchange,
    dev.broker,
    credentials.createSsl(readFileSync(dev.ca), readFileSync(me.key), readFileSync(me.cert)),
  );
  try {
    for (const line of await journey.run(client, subject)) process.stdout.write(`${line}\n`);
    return 0;
  } finally {
    client.close();
  }
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
