import { connect, type Msg, MsgHdrsImpl, headers as natsJsHeaders } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { NatsServer } from "../../stack/index.js";
import { natsHeaders, readHeaders } from "./headers.js";

const enc = new TextEncoder();

/** A received message as nats.js lays it out: header block, then payload, and the block's length. */
function received(block: string, payload = "body"): Msg {
  const head = enc.encode(block);
  const data = new Uint8Array(head.length + payload.length);
  data.set(head);
  data.set(enc.encode(payload), head.length);
  return { _rdata: data, _msg: { hdr: head.length } } as unknown as Msg;
}

/** What nats.js's own decode gives for the first value of `name` ("" when absent). */
function natsJsFirst(block: string, name: string): string {
  return MsgHdrsImpl.decode(enc.encode(block)).values(name)[0] ?? "";
}

const NAMES = ["Xbus-Exchange-Id", "Xbus-Deadline", "traceparent", "Xbus-Broker-Signature"] as const;

describe("natsHeaders", () => {
  it("encodes the same header block as nats.js's own append, without the undefined entries", () => {
    const ours = natsHeaders({ "Xbus-Exchange-Id": "ex-1", traceparent: undefined, "Nats-Msg-Id": "m 1" });
    const theirs = natsJsHeaders();
    theirs.append("Xbus-Exchange-Id", "ex-1");
    theirs.append("Nats-Msg-Id", "m 1");
    const block = (h: unknown) => new TextDecoder().decode((h as MsgHdrsImpl).encode());
    expect(block(ours)).toBe(block(theirs));
    expect(ours.get("Nats-Msg-Id")).toBe("m 1");
    expect(ours.has("traceparent")).toBe(false);
  });

  it("refuses a value that would break the header block, naming the header", () => {
    expect(() => natsHeaders({ "Xbus-Purpose": "audit\r\nXbus-Consumer: forged" })).toThrow(
      /Xbus-Purpose: the value contains a line break/,
    );
    expect(() => natsHeaders({ "Xbus-Purpose": "a\nb" })).toThrow(/line break/);
  });

  it("refuses a header name that is not a token", () => {
    expect(() => natsHeaders({ "Bad Name": "x" })).toThrow(/invalid NATS header name "Bad Name"/);
    expect(() => natsHeaders({ "Bad:Name": "x" })).toThrow(/invalid NATS header name/);
  });
});

describe("readHeaders", () => {
  const blocks = {
    "what natsHeaders writes": new TextDecoder().decode(
      (
        natsHeaders({
          "Xbus-Exchange-Id": "0190-ab",
          "Xbus-Deadline": "1790000000000",
          "Xbus-Broker-Signature": "c2ln+/w==",
        }) as MsgHdrsImpl
      ).encode(),
    ),
    "repeated names: the first value": "NATS/1.0\r\nXbus-Deadline: 1\r\nXbus-Deadline: 2\r\n\r\n",
    "blanks around values, a colon inside one":
      "NATS/1.0\r\nXbus-Exchange-Id:   a:b  \r\ntraceparent:00-x-y-01\r\n\r\n",
    "names that only look alike":
      "NATS/1.0\r\nxbus-deadline: 1\r\nXbus-Deadline-X: 2\r\nX-Xbus-Deadline: 3\r\n\r\n",
    "a line without a colon, an empty value": "NATS/1.0\r\nno colon here\r\nXbus-Exchange-Id:\r\n\r\n",
    "a status line with a code": "NATS/1.0 503\r\nXbus-Exchange-Id: e\r\n\r\n",
    "no line after the status line": "NATS/1.0\r\n\r\n",
  };
  for (const [what, block] of Object.entries(blocks)) {
    it(`reads what nats.js's decode reads: ${what}`, () => {
      const got = readHeaders(received(block), NAMES);
      for (const name of NAMES) expect(got[name], name).toBe(natsJsFirst(block, name));
    });
  }

  it("answers empty values for a message without headers, and reads nats.js's headers when the layout is not its own", () => {
    const none = { _rdata: enc.encode("body"), _msg: { hdr: -1 } } as unknown as Msg;
    expect(readHeaders(none, NAMES)).toEqual(Object.fromEntries(NAMES.map((n) => [n, ""])));
    const h = natsJsHeaders();
    h.append("Xbus-Deadline", "42");
    const other = { headers: h } as unknown as Msg;
    expect(readHeaders(other, NAMES)["Xbus-Deadline"]).toBe("42");
    expect(readHeaders(other, NAMES)["Xbus-Exchange-Id"]).toBe("");
  });

  it("reads a message received from nats-server without nats.js decoding its headers", async () => {
    const server = await NatsServer.start();
    const nc = await connect({ servers: server.url });
    try {
      const got = new Promise<Msg>((resolve) =>
        nc.subscribe("h.test", { max: 1, callback: (_, m) => resolve(m) }),
      );
      await nc.flush();
      nc.publish("h.test", enc.encode("payload"), {
        headers: natsHeaders({ "Xbus-Exchange-Id": "e-1", "Xbus-Deadline": "99", Other: "x" }),
      });
      const msg = await got;
      const h = readHeaders(msg, NAMES);
      expect(h).toEqual({
        "Xbus-Exchange-Id": "e-1",
        "Xbus-Deadline": "99",
        traceparent: "",
        "Xbus-Broker-Signature": "",
      });
      // The fast path ran: nats.js's lazy decode (kept in _headers) was never asked for.
      expect((msg as unknown as { _headers?: unknown })._headers).toBeUndefined();
      expect(new TextDecoder().decode(msg.data)).toBe("payload");
    } finally {
      await nc.close();
      await server.dispose();
    }
  });
});
