import { type MsgHdrsImpl, headers as natsJsHeaders } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { natsHeaders } from "./nats-headers.js";

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
