import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LOG_STREAM } from "../../broker/index.js";
import { createServiceClient } from "../../core/rpc/index.js";
import { Exchange } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { NatsServer } from "../../stack/index.js";
import {
  type ExportLine,
  exportLog,
  reviewClient,
  type TreeHeadJson,
  verifyExport,
} from "../../verifier/index.js";

/*
 * The broker process is killed with SIGKILL while clients are mid-flight.
 * JetStream (a separate nats-server here, as in production) keeps the log;
 * after a restart the indexer resumes where it stopped. Every receipt a
 * client got must be in the log, the tree must verify, no index skipped.
 */
const root = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "xbus-crash-"));
let nats: NatsServer;
let child: ChildProcess | undefined;

interface DevJson {
  broker: string;
  ca: string;
  consumer: { cert: string; key: string };
  sample_subject_id: string;
  review: { url: string; token: string };
}

async function startBus(): Promise<DevJson> {
  rmSync(join(dir, "dev.json"), { force: true });
  const p = spawn(process.execPath, [join(root, "bin/xbus.js"), "dev", "--dir", dir, "--nats", nats.url], {
    cwd: root,
    env: { ...process.env, XBUS_LOG_LEVEL: "error" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  child = p;
  let out = "";
  p.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  while (!out.includes("Ctrl-C stops everything")) {
    if (p.exitCode !== null) throw new Error(`xbus dev exited ${p.exitCode}: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(existsSync(join(dir, "dev.json"))).toBe(true);
  return JSON.parse(readFileSync(join(dir, "dev.json"), "utf8")) as DevJson;
}

function clientOf(dev: DevJson) {
  return createServiceClient(
    Exchange,
    dev.broker,
    credentials.createSsl(
      readFileSync(dev.ca),
      readFileSync(dev.consumer.key),
      readFileSync(dev.consumer.cert),
    ),
  );
}

beforeAll(async () => {
  nats = await NatsServer.start();
});
afterAll(async () => {
  child?.kill("SIGKILL");
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

it("after SIGKILL under load and a restart, every receipt is in a log that verifies", {
  timeout: 120_000,
}, async () => {
  const receipts = new Map<number, string>();
  let dev = await startBus();
  const client = clientOf(dev);
  let stop = false;
  const worker = async () => {
    while (!stop) {
      try {
        const res = await client.fetch(
          {
            service: "dcrc.citizen-record",
            subjectId: dev.sample_subject_id,
            purpose: "scholarship-eligibility",
          },
          { deadline: Date.now() + 5000 },
        );
        if (res.receipt)
          receipts.set(Number(res.receipt.leafIndex), Buffer.from(res.receipt.leafHash).toString("hex"));
      } catch {
        // Calls cut by the kill fail; what matters is that no answered call is missing from the log.
      }
    }
  };
  const workers = Array.from({ length: 16 }, worker);
  while (receipts.size < 150) await new Promise((r) => setTimeout(r, 10));
  child?.kill("SIGKILL");
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(workers);
  client.close();
  const beforeRestart = receipts.size;
  expect(beforeRestart).toBeGreaterThanOrEqual(150);

  dev = await startBus();
  const again = clientOf(dev);
  const res = await again.fetch(
    { service: "dcrc.citizen-record", subjectId: dev.sample_subject_id, purpose: "scholarship-eligibility" },
    { deadline: Date.now() + 10_000 },
  );
  again.close();
  if (res.receipt)
    receipts.set(Number(res.receipt.leafIndex), Buffer.from(res.receipt.leafHash).toString("hex"));

  const nc = await connect({ servers: nats.url });
  const streamSize = (await (await jetstreamManager(nc)).streams.info(LOG_STREAM)).state.messages;
  await nc.close();
  const api = reviewClient(dev.review.url, dev.review.token);
  for (;;) {
    const head = await api.get<TreeHeadJson>("/v1/log/tree-head");
    if (head.tree_size >= streamSize) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const lines: ExportLine[] = [];
  for await (const l of exportLog(api)) lines.push(l);
  const result = verifyExport(lines);
  expect(result).toMatchObject({ ok: true, entries: streamSize });
  const byIndex = new Map(
    lines.flatMap((l) => (l.type === "entry" ? [[l.index, l.leaf_hash] as const] : [])),
  );
  for (const [index, leafHash] of receipts) expect(byIndex.get(index), `receipt ${index}`).toBe(leafHash);
});
