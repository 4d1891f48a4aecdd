import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { credentials } from "@grpc/grpc-js";
import { createServiceClient } from "../../core/grpc.js";
import { createLogger } from "../../core/logger.js";
import { takePidLock } from "../../core/pid-lock.js";
import { Exchange } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { type Stack, startStack } from "./stack.js";

export interface DevOptions {
  /** Perform one Fetch, print it, stop everything, exit. */
  smoke: boolean;
  /** Default `.xbus/dev` under the current folder. */
  dir?: string;
  /** Use a running nats-server instead of spawning one; the log then resumes across restarts. */
  nats?: string;
}

const SERVICE = "dcrc.citizen-record";
const PURPOSE = "scholarship-eligibility";

/** `xbus dev`: the whole bus on this machine, until Ctrl-C. */
export async function runDev(opts: DevOptions): Promise<number> {
  const dir = resolve(opts.dir ?? join(".xbus", "dev"));
  mkdirSync(dir, { recursive: true });
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
    `xbus dev: starting nats-server, certificates, broker, connectors and the example agencies (dcrc, moh, moe, rsta) in ${dir}`,
  );
  const stack = await startStack({ dir, logger, ...(opts.nats && { natsUrl: opts.nats }) });
  const subject = stack.population.citizens[0]?.id ?? "";
  const devJson = devJsonOf(stack);
  const devJsonPath = join(dir, "dev.json");
  writeFileSync(devJsonPath, `${JSON.stringify(devJson, null, 2)}\n`);

  if (opts.smoke) {
    try {
      const client = createServiceClient(
        Exchange,
        stack.brokerAddress,
        credentials.createSsl(
          readFileSync(stack.caPath),
          readFileSync(stack.consumer.keyPath),
          readFileSync(stack.consumer.certPath),
        ),
      );
      const res = await client.fetch(
        { service: SERVICE, subjectId: subject, purpose: PURPOSE, requestId: "dev-smoke" },
        { deadline: Date.now() + 10_000 },
      );
      client.close();
      const record = res.record ? anyUnpack(res.record, stack.catalogue.registry) : undefined;
      const type = record ? stack.catalogue.registry.getMessage(record.$typeName) : undefined;
      say(`exchange ${res.exchangeId}: ${SERVICE} for ${PURPOSE}`);
      say(`released: ${res.releasedFields.join(", ")}`);
      if (res.withheldFields.length > 0) say(`withheld: ${res.withheldFields.join(", ")}`);
      if (res.receipt)
        say(
          `receipt: leaf ${res.receipt.leafIndex} of ${res.receipt.logId}, signed by the broker ` +
            `(check one with: npm run xbus -- log receipt --json '<the receipt>')`,
        );
      say(JSON.stringify(record && type ? toJson(type, record, { useProtoFieldName: true }) : null, null, 2));
      return 0;
    } catch (err) {
      process.stderr.write(`xbus dev --smoke: the fetch failed: ${(err as Error).message}\n`);
      return 1;
    } finally {
      await stack.close();
    }
  }

  say("");
  say(`  broker      ${stack.brokerAddress}   (xbus.v1.Exchange, mutual TLS)`);
  say(`  nats        ${stack.nats.url}`);
  if (stack.review) say(`  review API  ${stack.review.url}   (bearer token in dev.json: review.token)`);
  if (stack.review) say(`  review UI   ${stack.review.url}/ui   (in a browser; it asks for that token)`);
  if (stack.review)
    say(`  metrics     ${stack.review.url}/metrics   (traces: set OTEL_EXPORTER_OTLP_ENDPOINT)`);
  say(`  config      ${devJsonPath}`);
  for (const a of stack.adapters) if (a.address) say(`  adapter     ${a.address}   (${a.agency})`);
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
  say("  npx tsx adapters/examples/journeys/main.ts scholarship   (or licence-renewal)");
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

/** What `.xbus/dev/dev.json` says, for other tools (grpcurl, the conformance kit, the journeys). */
export function devJsonOf(stack: Stack) {
  const subject = stack.population.citizens[0]?.id ?? "";
  return {
    broker: stack.brokerAddress,
    nats: stack.nats.url,
    ...(stack.natsAuth && {
      nats_client: { cert: stack.brokerCert.certPath, key: stack.brokerCert.keyPath },
    }),
    ca: stack.caPath,
    ca_dir: stack.caDir.paths.dir,
    crl: stack.crlPath,
    consumer: {
      spiffe_id: stack.consumer.spiffeId,
      cert: stack.consumer.certPath,
      key: stack.consumer.keyPath,
    },
    sample_subject_id: subject,
    service: SERVICE,
    purpose: PURPOSE,
    consumers: stack.consumers.map((c) => ({ spiffe_id: c.spiffeId, cert: c.certPath, key: c.keyPath })),
    adapters: stack.adapters.map((a) => ({
      agency: a.agency,
      address: a.address,
      client: { cert: a.client.certPath, key: a.client.keyPath },
    })),
    adapter_client: { cert: stack.adapterClient.certPath, key: stack.adapterClient.keyPath },
    ...(stack.review && { review: stack.review, log: stack.logFiles }),
  };
}
