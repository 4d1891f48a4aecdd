import { isUtf8 } from "node:buffer";
import { type DescMessage, ScalarType } from "@bufbuild/protobuf";
import type { FieldTree } from "./field-tree.js";

/*
 * The fast path of minimisation (DESIGN step 7). Decoding a record, clearing
 * what policy withheld and encoding it again costs ~50 µs for 512 bytes and
 * ~3 ms for 64 KB. Most records need none of it: the adapter SDK already cuts
 * a record to the released fields, and a grant often releases them all. This
 * walks the wire bytes once, allocating nothing, and answers whether they can
 * be passed on exactly as they are: every field known to the record type,
 * released, with the wire type its kind allows, strings valid UTF-8, nested
 * messages the same all the way down, nothing truncated. Anything else (an
 * unknown or withheld field, a map, a group, a malformed byte) answers false,
 * and the caller takes the full decode, clear and encode path, which drops or
 * refuses what this would not pass. It never decides to release anything the
 * slow path would clear; it only spares the work when there is nothing to clear.
 */

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** What the scan needs of a field, precomputed once per message type. */
enum Kind {
  Message,
  String,
  Bytes,
  /** A number or enum written as a varint; repeated ones may come packed. */
  Varint,
  Fixed64,
  Fixed32,
  /** Maps and groups: always the full path. */
  Unsupported,
}
interface FieldInfo {
  name: string;
  kind: Kind;
  repeated: boolean;
  message: DescMessage | undefined;
  /** The nested message's fields, looked up once on first use (no WeakMap lookup per nested message). */
  nested: FieldTable | undefined;
}

/** Fields by number: an array for the usual small numbers, a map for the rest. */
interface FieldTable {
  small: (FieldInfo | undefined)[];
  large: Map<number, FieldInfo> | undefined;
}
const SMALL_FIELD_NUMBERS = 256;

const infoByType = new WeakMap<DescMessage, FieldTable>();

function kindOfScalar(t: ScalarType): Kind {
  switch (t) {
    case ScalarType.STRING:
      return Kind.String;
    case ScalarType.BYTES:
      return Kind.Bytes;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return Kind.Fixed64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return Kind.Fixed32;
    default:
      return Kind.Varint;
  }
}

function infoOf(desc: DescMessage): FieldTable {
  let table = infoByType.get(desc);
  if (table) return table;
  table = { small: [], large: undefined };
  for (const f of desc.fields) {
    let kind: Kind;
    let message: DescMessage | undefined;
    let repeated = false;
    switch (f.fieldKind) {
      case "message":
        kind = f.delimitedEncoding ? Kind.Unsupported : Kind.Message;
        message = f.message;
        break;
      case "enum":
        kind = Kind.Varint;
        break;
      case "scalar":
        kind = kindOfScalar(f.scalar);
        break;
      case "list":
        repeated = true;
        if (f.listKind === "message") {
          kind = f.delimitedEncoding ? Kind.Unsupported : Kind.Message;
          message = f.message;
        } else kind = f.listKind === "enum" ? Kind.Varint : kindOfScalar(f.scalar);
        break;
      default:
        kind = Kind.Unsupported;
    }
    const info: FieldInfo = { name: f.name, kind, repeated, message, nested: undefined };
    if (f.number < SMALL_FIELD_NUMBERS) table.small[f.number] = info;
    else {
      table.large ??= new Map();
      table.large.set(f.number, info);
    }
  }
  infoByType.set(desc, table);
  return table;
}

/** Short ASCII strings (most of them) are checked here; the rest by Node's native UTF-8 check. */
function validUtf8(b: Uint8Array, start: number, end: number): boolean {
  if (end - start <= 64) {
    let bits = 0;
    for (let i = start; i < end; i++) bits |= b[i] as number;
    if (bits < 0x80) return true;
  }
  return isUtf8(b.subarray(start, end));
}

/** Where the last readVarint ended: a second result without allocating a pair per call. */
let varintEnd = 0;

/**
 * The varint at `pos` as a number (exact up to 2^53, larger only ever compared
 * with a length), ending at `varintEnd`; -1 if it runs past `end` or over
 * `maxBytes`.
 */
function readVarint(b: Uint8Array, pos: number, end: number, maxBytes: number): number {
  if (pos >= end) return -1;
  let byte = b[pos++] as number;
  if (byte < 0x80) {
    varintEnd = pos; // most tags and lengths: one byte
    return byte;
  }
  let value = byte & 0x7f;
  let scale = 128;
  for (let i = 1; i < maxBytes; i++) {
    if (pos >= end) return -1;
    byte = b[pos++] as number;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      varintEnd = pos;
      return value;
    }
    scale *= 128;
  }
  return -1;
}

/**
 * True when `bytes` (a `desc` message) carries only what `released` covers and
 * can be passed on unchanged; false when the full minimisation path must run.
 */
export function passesAsReleased(desc: DescMessage, bytes: Uint8Array, released: FieldTree): boolean {
  return clean(infoOf(desc), bytes, 0, bytes.length, released, 0);
}

const MAX_DEPTH = 32;

function clean(
  fields: FieldTable,
  b: Uint8Array,
  start: number,
  end: number,
  tree: FieldTree | true,
  depth: number,
): boolean {
  if (depth > MAX_DEPTH) return false;
  const small = fields.small;
  let pos = start;
  while (pos < end) {
    // The tag: field numbers of known fields fit in 29 bits, so in at most 5 bytes (one, mostly).
    let tag = b[pos] as number;
    if (tag < 0x80) pos++;
    else {
      tag = readVarint(b, pos, end, 5);
      if (tag < 0 || tag > 0xffffffff) return false;
      pos = varintEnd;
    }
    const wireType = tag & 7;
    const number = tag >>> 3;
    const field = number < SMALL_FIELD_NUMBERS ? small[number] : fields.large?.get(number);
    if (field === undefined) return false; // unknown: the slow path drops it
    const sub = tree === true ? true : tree.get(field.name);
    if (sub === undefined) return false; // withheld: the slow path clears it
    const kind = field.kind;
    if (kind === Kind.Unsupported) return false;
    if (sub !== true && kind !== Kind.Message) return false; // a path below a scalar: cleared by the slow path

    if (wireType === LEN) {
      if (pos >= end) return false;
      let len = b[pos] as number;
      if (len < 0x80) pos++;
      else {
        len = readVarint(b, pos, end, 10);
        if (len < 0) return false;
        pos = varintEnd;
      }
      if (len > end - pos) return false;
      const valueEnd = pos + len;
      switch (kind) {
        case Kind.Message:
          field.nested ??= infoOf(field.message as DescMessage);
          if (!clean(field.nested, b, pos, valueEnd, sub, depth + 1)) return false;
          break;
        case Kind.String:
          if (!validUtf8(b, pos, valueEnd)) return false;
          break;
        case Kind.Bytes:
          break;
        case Kind.Varint:
          // Packed: only a repeated number or enum, and its varints must fill it exactly.
          if (!field.repeated) return false;
          for (let p = pos; p < valueEnd; p = varintEnd) if (readVarint(b, p, valueEnd, 10) < 0) return false;
          break;
        default:
          if (!field.repeated || len % (kind === Kind.Fixed64 ? 8 : 4) !== 0) return false;
      }
      pos = valueEnd;
    } else if (wireType === VARINT && kind === Kind.Varint) {
      if (readVarint(b, pos, end, 10) < 0) return false;
      pos = varintEnd;
    } else if (wireType === I64 && kind === Kind.Fixed64) {
      pos += 8;
      if (pos > end) return false;
    } else if (wireType === I32 && kind === Kind.Fixed32) {
      pos += 4;
      if (pos > end) return false;
    } else return false; // a wire type the field's kind does not allow
  }
  return pos === end;
}
