import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsServer } from "../../stack/index.js";
import { NATS_DIAL_TIMEOUT_MS, NATS_PING, natsClientOptions } from "./client.js";
import { dropStaleSockets } from "./stale.js";

/*
 * A nats-server frozen (SIGSTOP) while a client publishes: its kernel keeps the sockets open and stops
 * acking once the buffers fill, as a partitioned machine does. With the components' options the client must
 * leave it and reconnect to the other server by itself. The flood case is nats.js 3.4's hang on closing a
 * stale connection (it waits for a flush that never completes); without dropStaleSockets it stays on the
 * frozen server, so this test fails if a nats.js upgrade moves the socket dropStaleSockets destroys.
 */
let frozen: NatsServer;
let other: NatsServer;
const open: NatsConnection[] = [];

beforeAll(async () => {
  [frozen, other] = await Promise.all([NatsServer.start(), NatsServer.start()]);
});
afterAll(async () => {
  if (frozen?.pid !== undefined) process.kill(frozen.pid, "SIGCONT");
  for (const nc of open) await nc.close().catch(() => {});
  await Promise.all([frozen?.dispose(), other?.dispose()]);
});

/** Connects to `frozen` first (then `other`), as a component does; resolves with the server it reconnects to. */
async function reconnectAfterFreeze(flood: boolean, withDrop: boolean, limitMs: number): Promise<string> {
  const nc = await connect({
    ...natsClientOptions({ servers: [frozen.url, other.url], name: "stale-test" }),
    noRandomize: true,
  });
  open.push(nc);
  if (withDrop) dropStaleSockets(nc);
  expect(nc.getServer()).toBe(frozen.url.replace("nats://", ""));
  const reconnected = (async () => {
    for await (const s of nc.status()) if (s.type === "reconnect") return s.server;
    return "closed";
  })();
  process.kill(frozen.pid as number, "SIGSTOP");
  const payload = new Uint8Array(64 * 1024);
  const pump = flood
    ? setInterval(() => {
        for (let i = 0; i < 32; i++) nc.publish("stale.flood", payload);
      }, 10)
    : undefined;
  const timedOut = new Promise<string>((r) => setTimeout(() => r("still on the frozen server"), limitMs));
  try {
    return await Promise.race([reconnected, timedOut]);
  } finally {
    clearInterval(pump);
    process.kill(frozen.pid as number, "SIGCONT");
    await nc.close().catch(() => {});
  }
}

/** Stale after maxPingOut + 1 pings; the reconnect may first dial the frozen server and time out. */
const EXPECTED_MS = NATS_PING.pingInterval * (NATS_PING.maxPingOut + 1) + NATS_DIAL_TIMEOUT_MS;

describe("a component's NATS connection on a frozen server", () => {
  it("reconnects to another server while idle (pings, dial timeout)", async () => {
    // Waited for generously (a loaded machine delays timers): not a timing claim.
    expect(await reconnectAfterFreeze(false, true, 3 * EXPECTED_MS)).toBe(other.url.replace("nats://", ""));
  }, 60_000);

  it("reconnects to another server while publishing: the stale socket is dropped", async () => {
    expect(await reconnectAfterFreeze(true, true, 3 * EXPECTED_MS)).toBe(other.url.replace("nats://", ""));
  }, 60_000);

  it("nats.js alone does not (why dropStaleSockets exists)", async () => {
    // Well past the time a connection that drops stale sockets takes (EXPECTED_MS).
    expect(await reconnectAfterFreeze(true, false, EXPECTED_MS + 6000)).toBe("still on the frozen server");
  }, 60_000);
});
