import { isUtf8 } from "node:buffer";
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import type { FieldTree } from "./field-mask.js";

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

const byNumber = new WeakMap<DescMessage, Map<number, DescField>>();

function fieldsOf(desc: DescMessage): Map<number, DescField> {
  let m = byNumber.get(desc);
  if (!m) {
    m = new Map(desc.fields.map((f) => [f.number, f]));
    byNumber.set(desc, m);
  }
  return m;
}

/** The wire type a scalar is written with when not packed. */
function scalarWireType(t: ScalarType): number {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return I64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return I32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return LEN;
    default:
      return VARINT;
  }
}

/** End of the varint at `pos`, or -1 if it runs past `end` or over 10 bytes. */
function skipVarint(b: Uint8Array, pos: number, end: number): number {
  for (let i = 0; i < 10 && pos < end; i++) if (((b[pos++] as number) & 0x80) === 0) return pos;
  return -1;
}

/**
 * True when `bytes` (a `desc` message) carries only what `released` covers and
 * can be passed on unchanged; false when the full minimisation path must run.
 */
export function passesAsReleased(desc: DescMessage, bytes: Uint8Array, released: FieldTree): boolean {
  return clean(desc, bytes, 0, bytes.length, released, 0);
}

const MAX_DEPTH = 32;

function clean(
  desc: DescMessage,
  b: Uint8Array,
  start: number,
  end: number,
  tree: FieldTree | true,
  depth: number,
): boolean {
  if (depth > MAX_DEPTH) return false;
  const fields = fieldsOf(desc);
  let pos = start;
  while (pos < end) {
    // Tags of known fields fit in 5 bytes; read as an unsigned 32-bit value.
    let tag = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end || shift > 28) return false;
      const byte = b[pos++] as number;
      tag += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
    }
    const wireType = tag % 8;
    const field = fields.get(Math.floor(tag / 8));
    if (!field) return false; // unknown: the slow path drops it
    const sub = tree === true ? true : tree.get(field.name);
    if (sub === undefined) return false; // withheld: the slow path clears it
    if (field.fieldKind === "map") return false;

    if (wireType === LEN) {
      const lenEnd = skipVarint(b, pos, end);
      if (lenEnd < 0) return false;
      let len = 0;
      for (let i = lenEnd - 1; i >= pos; i--) len = len * 128 + ((b[i] as number) & 0x7f);
      pos = lenEnd;
      if (len > end - pos) return false;
      const valueEnd = pos + len;
      const isMessage =
        field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message");
      if (isMessage) {
        if (field.delimitedEncoding) return false;
        if (!clean(field.message as DescMessage, b, pos, valueEnd, sub, depth + 1)) return false;
      } else {
        if (sub !== true) return false; // a path below a scalar: the slow path clears the field
        const scalar =
          field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar")
            ? field.scalar
            : undefined;
        if (scalar === ScalarType.STRING) {
          if (!isUtf8(b.subarray(pos, valueEnd))) return false;
        } else if (scalar !== ScalarType.BYTES) {
          // Only a repeated number or enum may come packed; its elements must fill it exactly.
          if (field.fieldKind !== "list") return false;
          const element = scalar === undefined ? VARINT : scalarWireType(scalar);
          if (element === VARINT) {
            for (let p = pos; p < valueEnd; ) {
              p = skipVarint(b, p, valueEnd);
              if (p < 0) return false;
            }
          } else if (len % (element === I64 ? 8 : 4) !== 0) return false;
        }
      }
      pos = valueEnd;
      continue;
    }

    if (sub !== true) return false;
    let expected: number;
    if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum"))
      expected = VARINT;
    else if (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar"))
      expected = scalarWireType(field.scalar);
    else return false;
    if (wireType !== expected) return false;
    if (wireType === VARINT) {
      pos = skipVarint(b, pos, end);
      if (pos < 0) return false;
    } else {
      pos += wireType === I64 ? 8 : 4;
      if (pos > end) return false;
    }
  }
  return pos === end;
}
