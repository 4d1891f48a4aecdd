import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll } from "vitest";
import { ensureLogStream, LOG_SUBJECT } from "../../broker/log/jetstream-log.js";
import { Decision, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import { NatsServer } from "../../stack/index.js";

export interface LogStreamSuite {
  /** A temp folder for the suite's files, removed after it. */
  readonly dir: string;
  /** Set in beforeAll. */
  readonly nats: NatsServer;
  /** A connection to it, set in beforeAll. */
  readonly nc: NatsConnection;
}

/**
 * For a suite: a real nats-server with the log stream created as the broker creates it, and a
 * temp folder, both started before its tests and torn down after them even when one fails.
 */
export function useLogStream(prefix: string): LogStreamSuite {
  const s = { dir: mkdtempSync(join(tmpdir(), prefix)) } as {
    dir: string;
    nats: NatsServer;
    nc: NatsConnection;
  };
  beforeAll(async () => {
    s.nats = await NatsServer.start();
    s.nc = await connect({ servers: s.nats.url });
    await ensureLogStream(s.nc);
  });
  afterAll(async () => {
    await s.nc?.close();
    await s.nats?.dispose();
    rmSync(s.dir, { recursive: true, force: true });
  });
  return s;
}

/**
 * Publishes n exchange records to the log stream, as the broker's log writer does (one message per
 * record, deduplicated by exchange id); `service` tells one batch's records from another's. Returns
 * each record's exchange id and its exact leaf bytes, in stream order.
 */
export async function publishLogRecords(
  nc: NatsConnection,
  n: number,
  service = "dcrc.citizen-record",
): Promise<{ id: string; leaf: Buffer }[]> {
  const js = jetstream(nc);
  const out: { id: string; leaf: Buffer }[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    const leaf = Buffer.from(
      toBinary(
        ExchangeRecordSchema,
        create(ExchangeRecordSchema, {
          exchangeId: id,
          time: BigInt(Date.now()),
          consumer: "spiffe://gov.bt/agency/moe/system/scholarships",
          service,
          purpose: "scholarship-eligibility",
          decision: Decision.ALLOW,
          status: "OK",
        }),
      ),
    );
    await js.publish(LOG_SUBJECT, leaf, { msgID: id });
    out.push({ id, leaf });
  }
  return out;
}

/** Polls f every 20 ms until it gives a truthy value, which it returns; fails naming `what` after `ms`. */
export async function until<T>(what: string, f: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
