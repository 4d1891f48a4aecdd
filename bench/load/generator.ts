import { performance } from "node:perf_hooks";
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import type { LoadCommand, LoadReply, LoadResult, LoadRun, TargetInfo } from "../protocol.js";

/**
 * The load generator, a process of its own so its CPU and memory are not the
 * system's under test. Closed loop: `concurrency` workers each send a call,
 * wait for the answer, and send the next. It speaks raw bytes (the request is
 * encoded once by the orchestrator, replies are not decoded), so it costs the
 * same whichever system it drives. One HTTP/2 connection per target, kept
 * across runs, as a consumer system would keep its channel.
 */
const CALL_DEADLINE_MS = 30_000;
const bytes = (b: Buffer) => b;
const clients = new Map<string, Client>();

function clientFor(t: TargetInfo, address = t.address): Client {
  let c = clients.get(address);
  if (!c) {
    c = new Client(
      address,
      credentials.createSsl(Buffer.from(t.tls.ca), Buffer.from(t.tls.key), Buffer.from(t.tls.cert)),
      { "grpc.max_receive_message_length": 8 * 1024 * 1024 },
    );
    clients.set(address, c);
  }
  return c;
}

function call(client: Client, method: string, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method,
      bytes,
      bytes,
      request,
      new Metadata(),
      { deadline: Date.now() + CALL_DEADLINE_MS },
      (err: ServiceError | null, reply?: Buffer) => (err || !reply ? reject(err) : resolve(reply)),
    );
  });
}

function errorKey(err: unknown): string {
  const se = err as Partial<ServiceError> | null;
  const reason = se?.metadata?.get("xbus-reason")[0];
  return `${se?.code ?? "?"}:${typeof reason === "string" ? reason : "-"}`;
}

export async function runLoad(run: LoadRun): Promise<LoadResult> {
  const client = clientFor(run.target);
  // Several brokers: worker i calls the (i mod n)th, each over its own connection, warmed up here.
  const spread = (run.target.addresses ?? [run.target.address]).map((a) => clientFor(run.target, a));
  const request = Buffer.from(run.request);
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const fail = (key: string) => {
    errors[key] = (errors[key] ?? 0) + 1;
  };
  // One call before the clock starts: the connection and its TLS handshake are not part of the measurement.
  for (const c of new Set([client, ...spread]))
    try {
      const reply = await call(c, run.target.method, request);
      if (reply.length < run.minReplyBytes) fail("SHORT_REPLY");
    } catch (err) {
      fail(errorKey(err));
    }
  // The window opens after the warm-up, and not before every worker has had one answer: with big records
  // the first answers come in one burst, and a window that opened inside it would measure the burst.
  const begin = performance.now();
  const earliestStart = begin + run.warmupMs;
  let answered = 0;
  let answeredAll = 0;
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  const firstAnswer = (t: number) => {
    answered++;
    if (answered === run.concurrency) {
      windowStart = Math.max(earliestStart, t);
      windowEnd = windowStart + run.durationMs;
    }
  };
  const worker = async (_: unknown, i: number) => {
    const client = spread[i % spread.length] as Client;
    let first = true;
    for (;;) {
      const t0 = performance.now();
      if (t0 >= windowEnd) return;
      try {
        const reply = await call(client, run.target.method, request);
        const t1 = performance.now();
        answeredAll++;
        if (first) firstAnswer(t1);
        if (reply.length < run.minReplyBytes) fail("SHORT_REPLY");
        else if (t1 >= windowStart && t1 <= windowEnd) latencies.push(t1 - t0);
      } catch (err) {
        answeredAll++;
        if (first) firstAnswer(performance.now());
        fail(errorKey(err));
        // A failing system answers fast; do not spin the CPU the system under test needs.
        await new Promise((r) => setTimeout(r, 1));
      }
      first = false;
    }
  };
  await Promise.all(Array.from({ length: run.concurrency }, worker));
  return {
    type: "result",
    completed: latencies.length,
    durationMs: run.durationMs,
    answered: answeredAll,
    latenciesMs: Float64Array.from(latencies),
    errors,
  };
}

process.on("message", (m: LoadCommand) => {
  const send = (r: LoadReply) => process.send?.(r);
  if (m.type === "stop") {
    for (const c of clients.values()) c.close();
    process.exit(0);
  }
  runLoad(m).then(send, (err: unknown) =>
    send({ type: "failed", message: err instanceof Error ? err.message : String(err) }),
  );
});
process.on("disconnect", () => process.exit(0));
