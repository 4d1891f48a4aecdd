import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import { Command } from "commander";
import { parseWorkloadId, spiffeIdsFromSubjectAltName } from "../../core/contract/index.js";
import { natsClientOptions, natsTlsInForce } from "../../core/nats/index.js";
import { initFederation } from "../../stack/index.js";
import { whyUnreadable } from "../user-file.js";
import { act, type Run, repeatableOption, requiredOption, UsageError, type XbusCommand } from "./command.js";

interface InitFlags {
  nats?: string[];
  ca: string;
  cert: string;
  key: string;
  replicas: string;
  logMaxBytes?: string;
}

const NATS_URL = /^(nats|tls):\/\/[A-Za-z0-9.-]+:[0-9]{1,5}$/;

function wholeNumber(value: string, flag: string, min: number, max: number): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(
      `${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  return n;
}

function initCommand(run: Run): Command {
  const cmd = new Command("init")
    .summary("create or update XBUS_LOG and the consent bucket, as the admin identity")
    .description(
      "Connects to NATS with an admin certificate (xbus certs issue --role admin) and creates the exchange " +
        "log's stream XBUS_LOG and the consent bucket, or brings existing ones to their settings where that " +
        "is safe: more replicas, a higher --log-max-bytes. Any other difference (a lower max_bytes, which " +
        "would truncate the log; deny_delete or deny_purge off; other subjects) is refused, named, and " +
        "nothing is changed. Brokers may not create or change streams; run this before the first broker " +
        "starts, and again to scale a cluster from 1 to 3 replicas.",
    )
    .addOption(repeatableOption("--nats <url>", "a core NATS server, nats:// or tls://HOST:PORT (required)"))
    .addOption(requiredOption("--ca <file>", "the federation's trust bundle, PEM"))
    .addOption(requiredOption("--cert <file>", "the admin's certificate, PEM"))
    .addOption(requiredOption("--key <file>", "the admin's key, PEM"))
    .addOption(
      requiredOption("--replicas <n>", "replicas of the stream and the bucket: 1, or 3 (or 5) on a cluster"),
    )
    .option("--log-max-bytes <n>", "XBUS_LOG's storage limit in bytes (default unlimited); may only grow");
  return act<InitFlags>(run, cmd, async (o) => {
    const servers = o.nats ?? [];
    if (servers.length === 0) throw new UsageError("--nats URL is required");
    for (const url of servers)
      if (!NATS_URL.test(url))
        throw new UsageError(
          `--nats must be nats:// or tls://HOST:PORT, got ${JSON.stringify(url.slice(0, 100))}`,
        );
    const replicas = wholeNumber(o.replicas, "--replicas", 1, 5);
    const logMaxBytes =
      o.logMaxBytes === undefined ? undefined : wholeNumber(o.logMaxBytes, "--log-max-bytes", 1, 2 ** 53 - 1);
    const read = (flag: string, path: string) => {
      try {
        return readFileSync(path, "utf8");
      } catch (err) {
        throw new Error(`${flag}: cannot read ${path}: ${whyUnreadable(err)}`);
      }
    };
    const tls = { ca: read("--ca", o.ca), cert: read("--cert", o.cert), key: read("--key", o.key) };
    let role: string;
    try {
      const [id] = spiffeIdsFromSubjectAltName(new X509Certificate(tls.cert).subjectAltName);
      role = id ? parseWorkloadId(id).role : "none";
    } catch (err) {
      throw new Error(`--cert: ${o.cert} is not a workload certificate (${(err as Error).message})`);
    }
    if (role !== "admin")
      throw new Error(`--cert: ${o.cert} is a ${role} certificate; xbus federation init needs an admin's`);
    const nc = await connect(
      natsClientOptions({
        servers,
        name: "xbus-federation-init",
        tls: natsTlsInForce(tls),
        extra: { maxReconnectAttempts: 0 },
      }),
    );
    try {
      const steps = await initFederation(nc, { replicas, ...(logMaxBytes ? { logMaxBytes } : {}) });
      for (const s of steps) run.io.out(`${s.stream}: ${s.done} (replicas ${replicas})\n`);
      return 0;
    } finally {
      await nc.close();
    }
  });
}

export const federationCommand: XbusCommand = {
  name: "federation",
  create: (run) =>
    new Command("federation")
      .summary("the federation's NATS side: `federation init` makes the log stream and the consent bucket")
      .addCommand(initCommand(run)),
};
