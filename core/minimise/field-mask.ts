import type { DescMessage, Message } from "@bufbuild/protobuf";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { isReflectMessage, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { buildTree, type FieldTree, releasedTree } from "./field-tree.js";
import { passesAsReleased } from "./wire-scan.js";

/**
 * Clears, in place, every field of `message` that `released` does not cover.
 * A released path covers its field and everything below it; a released
 * `household.members.name` keeps `household.members[*].name` and clears every
 * other field of `household` and of each member. Works on any record type by
 * reflection, so an adapter that sends more than it was asked for leaks nothing.
 */
export function retainFields(desc: DescMessage, message: Message, released: Iterable<string>): void {
  retain(reflect(desc, message), buildTree(released));
}

/**
 * A record's bytes cut to the released fields: the same bytes when one wire
 * scan finds nothing else in them (core/minimise/wire-scan.ts), else decoded (unknown
 * fields dropped), cleared and encoded again. Throws if they do not decode as
 * `desc`; the caller names whose bytes they were.
 */
export function releasedBytes(desc: DescMessage, bytes: Uint8Array, released: readonly string[]): Uint8Array {
  if (passesAsReleased(desc, bytes, releasedTree(released))) return bytes;
  // Unknown fields are dropped here: clearing works on the fields the record type describes.
  const record = fromBinary(desc, bytes, { readUnknownFields: false });
  retainFields(desc, record, released);
  return toBinary(desc, record);
}

function retain(msg: ReflectMessage, tree: FieldTree): void {
  for (const field of msg.fields) {
    const keep = tree.get(field.name);
    if (keep === true) continue;
    if (keep === undefined || !msg.isSet(field)) {
      msg.clear(field);
      continue;
    }
    const value = msg.get(field);
    if (field.fieldKind === "message" && isReflectMessage(value)) {
      retain(value, keep);
    } else if (field.fieldKind === "list" && field.listKind === "message") {
      for (const item of value as Iterable<unknown>) {
        if (isReflectMessage(item)) retain(item, keep);
      }
    } else {
      // A path that goes below a scalar, enum or map cannot be released partially.
      msg.clear(field);
    }
  }
}
