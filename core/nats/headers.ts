import { type Msg, type MsgHdrs, MsgHdrsImpl } from "@nats-io/transport-node";

// A header name is an HTTP token; a value must not break the header block's lines.
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LINE_BREAK = /[\r\n]/;

/**
 * NATS headers built in one step from names and values the caller knows.
 * nats.js's `MsgHdrs.append` canonicalises the name, lists and filters every
 * name already set and compiles a regular expression on each call (~700 bytes
 * of garbage per header, eight headers per routed request); here each name and
 * value is checked once and the record handed to nats.js whole. Values are
 * sent as given; undefined ones are left out.
 */
export function natsHeaders(entries: Record<string, string | undefined>): MsgHdrs {
  const record: Record<string, string[]> = {};
  for (const name in entries) {
    const value = entries[name];
    if (value === undefined) continue;
    if (!NAME.test(name)) throw new Error(`invalid NATS header name ${JSON.stringify(name)}`);
    if (LINE_BREAK.test(value)) throw new Error(`NATS header ${name}: the value contains a line break`);
    record[name] = [value];
  }
  return MsgHdrsImpl.fromRecord(record);
}

/**
 * The header block of a received message as nats.js holds it before decoding
 * (its MsgImpl keeps the payload with the headers in front and their length):
 * the bytes, null when the message has no headers, undefined when `msg` is not
 * laid out that way (then the caller reads `msg.headers`).
 */
function rawHeaderBlock(msg: Msg): Uint8Array | null | undefined {
  const m = msg as unknown as { _rdata?: unknown; _msg?: { hdr?: unknown } };
  const hdr = m._msg?.hdr;
  if (typeof hdr !== "number" || !(m._rdata instanceof Uint8Array)) return undefined;
  if (hdr < 0) return null;
  return hdr <= m._rdata.length ? m._rdata.subarray(0, hdr) : undefined;
}

const utf8 = new TextDecoder();

/**
 * The first value of each header in `names` on a received message ("" when it
 * is absent), read as nats.js's `MsgHdrs.decode` reads them: the block decoded
 * as UTF-8, a status line, then `Name: value` lines, names matched exactly,
 * values trimmed. nats.js's decode canonicalises every name character by
 * character and, for each header, lists and filters the names already read
 * (~9 KB of garbage per routed request with eight headers); this walks the
 * block once and slices only the values asked for.
 */
export function readHeaders<N extends string>(msg: Msg, names: readonly N[]): Record<N, string> {
  if (names.length > 30) throw new RangeError("readHeaders reads at most 30 names");
  const out = {} as Record<N, string>;
  for (const n of names) out[n] = "";
  const raw = rawHeaderBlock(msg);
  if (raw === null) return out;
  if (raw === undefined) {
    for (const n of names) {
      const values = msg.headers?.values(n);
      out[n] = values?.[0] ?? "";
    }
    return out;
  }
  const block = utf8.decode(raw);
  let seen = 0; // bit i: names[i] read
  let left = names.length;
  // Line 1 is the status line (`NATS/1.0`, maybe a code); headers follow, one per line.
  for (let end = block.indexOf("\r\n"); end >= 0 && left > 0; ) {
    const start = end + 2;
    end = block.indexOf("\r\n", start);
    const lineEnd = end < 0 ? block.length : end;
    const colon = block.indexOf(":", start);
    if (colon < 0 || colon >= lineEnd) continue;
    for (let i = 0; i < names.length; i++) {
      const n = names[i] as N;
      if ((seen & (1 << i)) === 0 && colon - start === n.length && block.startsWith(n, start)) {
        out[n] = block.slice(colon + 1, lineEnd).trim();
        seen |= 1 << i;
        left--;
      }
    }
  }
  return out;
}
