import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { toJson, toJsonString } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { credentials } from "@grpc/grpc-js";
import { createLogger, takePidLock } from "../../core/index.js";
import { createServiceClient } from "../../core/rpc/index.js";
import { Exchange, type FetchResponse, ReceiptSchema } from "../../proto/gen/xbus/v1/exchange_pb.js";
import {
  type ClusterStack,
  DEV_SAMPLE,
  devJsonOf,
  journeyArgs,
  makePrivateDir,
  type Stack,
  startClusterStack,
  startStack,
  writeDevJson,
} from "../../stack/index.js";

export interface DevOptions {
  /** Perform one Fetch, print it, stop everything, exit. */
  smoke: boolean;
  /** Default `.xbus/dev` under the current folder. */
  dir?: string;
  /** Use a running nats-server instead of spawning one; the log then resumes across restarts. */
  nats?: string;
  /** The federation's topology on this machine (startClusterStack). */
  cluster?: boolean;
}

const DEFAULT_DIR = join(".xbus", "dev");
const SERVICE = DEV_SAMPLE.service;
const PURPOSE = DEV_SAMPLE.purpose;

/** `xbus dev`: the whole bus on this machine, until Ctrl-C. */
export async function runDev(opts: DevOptions): Promise<number> {
  const dir = resolve(opts.dir ?? DEFAULT_DIR);
  makePrivateDir(dir);
  // A second stack in the same folder (`--smoke` while `npm run dev` runs) would overwrite the first's
  // dev.json, certificates and log index under it, and leave the log tools pointed at a stack that is gone.
  const lock = takePidLock(join(dir, "dev.pid"));
  if (!lock.taken) {
    const who = lock.holder === undefined ? "" : ` (pid ${lock.holder})`;
    process.stderr.write(
      `xbus dev: ${dir} is in use by another xbus dev${who}: stop it, or give this one another --dir\n`,
    );
    return 1;
  }
  try {
    return await runDevIn(dir, opts);
  } finally {
    lock.release();
  }
}

async function runDevIn(dir: string, opts: DevOptions): Promise<number> {
  const logger = createLogger({}, opts.smoke ? "warn" : ((process.env.XBUS_LOG_LEVEL as "info") ?? "info"));
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    opts.cluster
      ? `xbus dev --cluster: starting 3 core nats-servers, a leaf nats-server per agency, certificates, 2 brokers, the log service and a standby, connectors and the example agencies (dcrc, moh, moe, rsta) in ${dir}`
      : `xbus dev: starting nats-server, certificates, broker, connectors and the example agencies (dcrc, moh, moe, rsta) in ${dir}`,
  );
  const stack: Stack & Partial<ClusterStack> = opts.cluster
    ? await startClusterStack({ dir, logger, citizenPage: true, witnesses: 3 })
    : await startStack({
        dir,
        logger,
        citizenPage: true,
        witnesses: 2,
        ...(opts.nats && { natsUrl: opts.nats }),
      });
  const subject = stack.population.citizens[0]?.id ?? "";
  const devJson = devJsonOf(stack);
  const devJsonPath = writeDevJson(dir, devJson);

  if (opts.smoke) {
    try {
      const res = await fetchSample(stack, subject, "dev-smoke");
      const record = res.record ? anyUnpack(res.record, stack.catalogue.registry) : undefined;
      const type = record ? stack.catalogue.registry.getMessage(record.$typeName) : undefined;
      // The stack stops before anyone can ask its review API: the receipt's signature is what is left to check.
      for (const line of exchangeLines(res, dir, "--offline ")) say(line);
      say(JSON.stringify(record && type ? toJson(type, record, { useProtoFieldName: true }) : null, null, 2));
      return 0;
    } catch (err) {
      process.stderr.write(`xbus dev --smoke: the fetch failed: ${(err as Error).message}\n`);
      return 1;
    } finally {
      await stack.close();
    }
  }

  // One exchange at start, so the log tools, the review UI and a newcomer without a gRPC client have
  // something to show; a failure is reported and the stack stays up.
  const sample = await fetchSample(stack, subject, "dev-start").then(
    // `xbus log` finds the review API through ./.xbus/dev/dev.json: elsewhere only the signature is checked.
    (res) => exchangeLines(res, dir, dir === resolve(DEFAULT_DIR) ? "" : "--offline "),
    (err: Error) => [`the sample exchange failed: ${err.message}`],
  );
  say("");
  for (const [i, address] of (stack.brokerAddresses ?? [stack.brokerAddress]).entries())
    say(`  broker      ${address}   (xbus.v1.Exchange, mutual TLS${i === 0 ? "" : `; broker ${i + 1}`})`);
  if (stack.core) {
    for (const url of stack.core.urls) say(`  nats core   ${url}`);
    for (const [agency, leaf] of stack.leaves ?? [])
      say(`  nats leaf   ${leaf.url}   (${agency}'s connector)`);
  } else say(`  nats        ${stack.nats.url}`);
  if (stack.review) say(`  review API  ${stack.review.url}   (bearer token in dev.json: review.token)`);
  if (stack.standby)
    say(`  standby     ${stack.standby.reviewUrl}   (log service; signs when the first one stops)`);
  if (stack.review) say(`  review UI   ${stack.review.url}/ui   (in a browser; it asks for that token)`);
  if (stack.review)
    say(`  checkpoint  ${stack.review.url}/checkpoint   (no token; log vkey ${stack.logVkey})`);
  for (const w of stack.witnesses) say(`  witness     ${w.url}   (${w.name}, vkey ${w.vkey})`);
  if (stack.witnessPolicyPath)
    say(
      `  policy      ${stack.witnessPolicyPath}   (the checkpoint at /checkpoint carries every witness's cosignature)`,
    );
  if (stack.citizen)
    say(
      `  citizen     ${stack.citizen.url}   (sign in as ${stack.citizen.users.map((u) => u.username).join(", ")}; passwords in dev.json: citizen.users)`,
    );
  say(`  metrics     ${stack.metricsUrl}   (its own port; traces: set OTEL_EXPORTER_OTLP_ENDPOINT)`);
  say(`  config      ${devJsonPath}`);
  for (const a of stack.adapters) if (a.address) say(`  adapter     ${a.address}   (${a.agency})`);
  say("");
  say("One exchange, done now (the grpcurl command below does the same):");
  for (const line of sample) say(`  ${line}`);
  say("");
  say("Try it with any gRPC client, e.g. grpcurl:");
  say(`  grpcurl -import-path proto -proto xbus/v1/exchange.proto \\`);
  say(`    -cacert ${stack.caPath} -cert ${stack.consumer.certPath} -key ${stack.consumer.keyPath} \\`);
  say(`    -d '{"service":"${SERVICE}","subject_id":"${subject}","purpose":"${PURPOSE}"}' \\`);
  say(`    ${stack.brokerAddress} xbus.v1.Exchange/Fetch`);
  say("");
  say("Check an adapter with the conformance kit, or run a cross-agency journey:");
  const first = stack.adapters.find((a) => a.address);
  if (first) say(`  npm run xbus -- adapter test --target ${first.address}`);
  for (const journey of ["scholarship", "licence-renewal"] as const)
    say(`  npx tsx adapters/examples/journeys/main.ts ${journeyArgs(stack, journey).join(" ")}`);
  say("");
  say("Ctrl-C stops everything.");
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  say("xbus dev: stopping");
  await stack.close();
  return 0;
}

/** One Fetch by the dev consumer of the sample citizen's record. */
async function fetchSample(stack: Stack, subject: string, requestId: string): Promise<FetchResponse> {
  const client = createServiceClient(
    Exchange,
    stack.brokerAddress,
    credentials.createSsl(
      readFileSync(stack.caPath),
      readFileSync(stack.consumer.keyPath),
      readFileSync(stack.consumer.certPath),
    ),
  );
  try {
    return await client.fetch(
      { service: SERVICE, subjectId: subject, purpose: PURPOSE, requestId },
      { deadline: Date.now() + 10_000 },
    );
  } finally {
    client.close();
  }
}

/** What an exchange released, and its receipt with the command that checks it (`--offline ` when the stack stops). */
function exchangeLines(res: FetchResponse, dir: string, offline: string): string[] {
  const lines = [
    `exchange ${res.exchangeId}: ${SERVICE} for ${PURPOSE}`,
    `released: ${res.releasedFields.join(", ")}`,
  ];
  if (res.withheldFields.length > 0) lines.push(`withheld: ${res.withheldFields.join(", ")}`);
  if (res.receipt) {
    const key = join(dir, "certs", "broker-signing.pub.pem");
    lines.push(
      `receipt: leaf ${res.receipt.leafIndex} of ${res.receipt.logId}, signed by the broker; check it with`,
      `  npm run xbus -- log receipt ${offline}--broker-key ${key} --json '${toJsonString(ReceiptSchema, res.receipt)}'`,
    );
  }
  return lines;
}
