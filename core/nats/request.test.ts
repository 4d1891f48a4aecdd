import { connect, errors, headers, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOG_STREAM, parsePubAck } from "../../broker/log/jetstream-log.js";
import { NatsServer } from "../../stack/index.js";
import { createRequestMux } from "./request.js";

let server: NatsServer;
let nc: NatsConnection;
let responder: NatsConnection;
const enc = new TextEncoder();
const dec = new TextDecoder();

beforeAll(async () => {
  server = await NatsServer.start();
  nc = await connect({ servers: server.url });
  responder = await connect({ servers: server.url });
  responder.subscribe("reply-to", { callback: (_, m) => void m.respond(enc.encode(m.reply ?? "")) });
  responder.subscribe("echo", {
    callback: (_, m) => {
      m.respond(enc.encode(`${dec.decode(m.data)}:${m.headers?.get("X-Test") ?? ""}`));
    },
  });
  // Answers only the second time it is asked: the first answer comes after the caller gave up.
  let late = 0;
  responder.subscribe("late", {
    callback: (_, m) => {
      if (late++ === 0) setTimeout(() => m.respond(enc.encode("too late")), 300);
      else m.respond(enc.encode("on time"));
    },
  });
  await responder.flush();
});
afterAll(async () => {
  await responder?.close();
  await nc?.close();
  await server?.dispose();
});

describe("the broker's request mux", () => {
  it("matches each reply to its request, many at once, headers included", async () => {
    const mux = createRequestMux(nc);
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const h = headers();
        h.set("X-Test", `h${i}`);
        return mux.request("echo", enc.encode(`m${i}`), { timeoutMs: 5000, headers: h });
      }),
    );
    expect(replies.map((r) => dec.decode(r.data))).toEqual(
      Array.from({ length: 200 }, (_, i) => `m${i}:h${i}`),
    );
    mux.close();
  });

  it("answers on unguessable reply subjects: no one can aim a forged reply by counting (issue 19, finding 8)", async () => {
    const mux = createRequestMux(nc);
    const subjects = [];
    for (let i = 0; i < 3; i++)
      subjects.push(dec.decode((await mux.request("reply-to", enc.encode(""), { timeoutMs: 5000 })).data));
    const tokens = subjects.map((s) => s.slice(s.lastIndexOf(".") + 1));
    // A base-36 counter, then 16 random base64url characters (96 bits).
    for (const t of tokens) expect(t).toMatch(/^[0-9a-z]+[A-Za-z0-9_-]{16}$/);
    const randomParts = new Set(tokens.map((t) => t.slice(-16)));
    expect(randomParts.size).toBe(3);
    mux.close();
  });

  it("fails as nats.js does: no responders, timeout, connection closed; a late reply is dropped", async () => {
    const mux = createRequestMux(nc);
    const none = await mux
      .request("nobody.here", enc.encode("x"), { timeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(none).toBeInstanceOf(errors.RequestError);
    expect((none as InstanceType<typeof errors.RequestError>).isNoResponders()).toBe(true);

    const slow = await mux.request("late", enc.encode("x"), { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(errors.TimeoutError);
    const next = await mux.request("late", enc.encode("x"), { timeoutMs: 5000 });
    expect(dec.decode(next.data)).toBe("on time");
    await new Promise((r) => setTimeout(r, 400)); // the first, late answer arrives and is ignored

    const waiting = mux.request("late.never", enc.encode("x"), { timeoutMs: 5000 }).catch((e: unknown) => e);
    const own = await connect({ servers: server.url });
    const ownMux = createRequestMux(own);
    const cut = ownMux
      .request("nobody.at.all", enc.encode("x"), { timeoutMs: 5000 })
      .catch((e: unknown) => e);
    ownMux.close();
    expect(String(await cut)).toMatch(/connection closed/);
    await own.close();
    mux.close();
    expect(String(await waiting)).toMatch(/connection closed|no responders/);
  });
});

describe("JetStream's append acknowledgement", () => {
  it("gives the sequence, and refuses errors, other streams and junk with what was wrong", () => {
    expect(parsePubAck(enc.encode(JSON.stringify({ stream: LOG_STREAM, seq: 42 })))).toEqual({ seq: 42 });
    expect(parsePubAck(enc.encode(JSON.stringify({ stream: LOG_STREAM, seq: 7, duplicate: true })))).toEqual({
      seq: 7,
    });
    expect(() =>
      parsePubAck(enc.encode(JSON.stringify({ error: { code: 503, description: "stream offline" } }))),
    ).toThrow(/refused the append: stream offline \(503\)/);
    expect(() => parsePubAck(enc.encode(JSON.stringify({ stream: "OTHER", seq: 1 })))).toThrow(
      /unexpected stream/,
    );
    expect(() => parsePubAck(enc.encode(JSON.stringify({ stream: LOG_STREAM, seq: 0 })))).toThrow(/sequence/);
    expect(() => parsePubAck(enc.encode("<html>"))).toThrow(/not JSON/);
  });
});
