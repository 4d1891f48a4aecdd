import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { FetchRequestSchema, FetchResponseSchema, ReceiptSchema } from "../proto/gen/xbus/v1/exchange_pb.js";
import type { LoadCommand, LoadEvent, LoadReply, LoadStart } from "./protocol.js";

/**
 * The fault harness's load, a process of its own (as bench/load/generator.ts
 * is for the bench) so that a fault in the bus never stalls the load and the
 * load's CPU is not the bus's. Closed loop: `concurrency` workers each send a
 * call, wait for its answer (or the deadline), and send the next. Unlike the
 * bench's generator it decodes every answer: the harness audits each receipt
 * against the log, so each success carries its receipt back. Events are kept
 * until the harness drains them.
 */
const FETCH = "/xbus.v1.Exchange/Fetch";
const bytes = (b: Buffer) => b;
/** After a failure, the worker waits this long: a bus failing fast must not be flooded by its own load. */
const FAILURE_PAUSE_MS = 20;

let events: LoadEvent[] = [];
let inFlight = 0;
let stopping = false;
const clients: Client[] = [];

function call(client: Client, request: Buffer, deadlineMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      FETCH,
      bytes,
      bytes,
      request,
      new Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err: ServiceError | null, reply?: Buffer) => (err || !reply ? reject(err) : resolve(reply)),
    );
  });
}

function failure(err: unknown): { outcome: string; exchangeId: string } {
  const se = err as Partial<ServiceError> | null;
  const first = (key: string) => {
    const v = se?.metadata?.get(key)[0];
    return typeof v === "string" ? v : undefined;
  };
  return {
    outcome: `${se?.code ?? "?"}:${first("xbus-reason") ?? "-"}`,
    exchangeId: first("xbus-exchange-id") ?? "",
  };
}

/**
 * A consumer's channel over every broker at once: grpc-js's `ipv4:` resolver with the addresses
 * comma-separated and the round_robin policy, which sends each call to a connected broker and drops a
 * broker whose connection fails until it reconnects. What README "Calling the bus" tells a consumer
 * system to do. The brokers' certificates are checked against `localhost`, the name their addresses
 * carry here (the default authority would be the first address's IP).
 */
export function failoverTarget(brokers: readonly string[]): {
  target: string;
  options: Record<string, string>;
} {
  const hostPort = /^localhost:(\d{1,5})$/;
  const ports = brokers.map((b) => {
    const m = hostPort.exec(b);
    if (!m) throw new Error(`load: broker address ${JSON.stringify(b)} is not localhost:<port>`);
    return `127.0.0.1:${m[1]}`;
  });
  return {
    target: `ipv4:${ports.join(",")}`,
    options: {
      "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
      "grpc.ssl_target_name_override": "localhost",
      "grpc.default_authority": "localhost",
    },
  };
}

function start(s: LoadStart): void {
  const creds = (c: LoadStart["consumers"][number]) =>
    credentials.createSsl(Buffer.from(s.ca), Buffer.from(c.key), Buffer.from(c.cert));
  // One channel per consumer and broker, as a consumer system keeps its channel; with more than one
  // broker, one more per consumer over all of them (slot brokers.length), which fails over by itself.
  const failover = s.brokers.length > 1 ? failoverTarget(s.brokers) : undefined;
  const channels = s.consumers.map((c) => {
    const own = s.brokers.map((address) => new Client(address, creds(c)));
    if (failover) own.push(new Client(failover.target, creds(c), failover.options));
    clients.push(...own);
    return own;
  });
  const slots = s.brokers.length + (failover ? 1 : 0);
  const worker = async (w: number) => {
    for (let i = 0; !stopping; i++) {
      const index = (w + i * s.concurrency) % s.requests.length;
      const r = s.requests[index];
      const broker = w % slots;
      const client = r && channels[r.consumer]?.[broker];
      if (!r || !client) throw new Error(`load: request ${index} names no consumer channel`);
      const requestId = `${s.tag}-${w}-${i}`;
      const request = Buffer.from(
        toBinary(
          FetchRequestSchema,
          create(FetchRequestSchema, {
            service: r.service,
            subjectId: r.subjectId,
            purpose: r.purpose,
            requestId,
          }),
        ),
      );
      const sentAt = Date.now();
      inFlight++;
      try {
        const reply = fromBinary(FetchResponseSchema, await call(client, request, s.deadlineMs));
        events.push({
          sentAt,
          doneAt: Date.now(),
          requestId,
          request: index,
          broker,
          outcome: "OK",
          exchangeId: reply.exchangeId,
          ...(reply.receipt?.brokerId ? { servedBy: reply.receipt.brokerId } : {}),
          ...(reply.receipt ? { receipt: toBinary(ReceiptSchema, reply.receipt) } : {}),
        });
      } catch (err) {
        events.push({ sentAt, doneAt: Date.now(), requestId, request: index, broker, ...failure(err) });
        await new Promise((r) => setTimeout(r, FAILURE_PAUSE_MS));
      } finally {
        inFlight--;
      }
    }
  };
  for (let w = 0; w < s.concurrency; w++)
    worker(w).catch((err: unknown) => process.send?.({ type: "failed", message: String(err) }));
}

process.on("message", (m: LoadCommand) => {
  const send = (r: LoadReply) => process.send?.(r);
  if (m.type === "start") {
    start(m);
    send({ type: "started" });
  } else if (m.type === "drain") {
    const out = events;
    events = [];
    send({ type: "events", events: out, inFlight });
  } else if (m.type === "stop") {
    stopping = true;
    for (const c of clients) c.close();
    process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0));
