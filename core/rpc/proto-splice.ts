import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { Any } from "@bufbuild/protobuf/wkt";

/*
 * toBinary for the envelopes that carry a record in a google.protobuf.Any
 * (AdapterFetchResponse, RouteReply, FetchResponse). protobuf-es writes into
 * a buffer that starts at 128 bytes and doubles as it fills, then copies the
 * result out: a 500 KB record costs about 1 MB of zeroed allocations and
 * several copies per envelope, at every hop. Here the envelope's other
 * fields are encoded as usual and the Any is appended by hand: one
 * allocation of the exact size and one copy of the record. A message's
 * encoding is the concatenation of its fields in any order (protobuf
 * encoding guide, "Field Order"), so every parser reads the same message.
 */

/** Below this a record is copied as cheaply as it is spliced. */
const SPLICE_FROM = 256;

interface AnyField {
  number: number;
  localName: string;
  /** The oneof holding the field, if any. */
  oneof: string | undefined;
}

const anyFields = new WeakMap<DescMessage, AnyField[]>();

function anyFieldsOf(desc: DescMessage): AnyField[] {
  let fields = anyFields.get(desc);
  if (!fields) {
    fields = desc.fields
      .filter((f) => f.fieldKind === "message" && f.message.typeName === "google.protobuf.Any")
      .map((f) => ({ number: f.number, localName: f.localName, oneof: f.oneof?.localName }));
    anyFields.set(desc, fields);
  }
  return fields;
}

/** The same message toBinary encodes, with a large Any field appended by hand (see above). */
export function toBinarySpliced<D extends DescMessage>(desc: D, message: MessageShape<D>): Uint8Array {
  const holder = message as unknown as Record<string, unknown>;
  for (const f of anyFieldsOf(desc)) {
    let any: Any | undefined;
    let rest: Record<string, unknown>;
    if (f.oneof) {
      const o = holder[f.oneof] as { case?: string; value?: unknown } | undefined;
      if (o?.case !== f.localName) continue;
      any = o.value as Any;
      rest = { ...holder, [f.oneof]: { case: undefined } };
    } else {
      any = holder[f.localName] as Any | undefined;
      rest = { ...holder, [f.localName]: undefined };
    }
    if (!any || any.value.length < SPLICE_FROM || (any.$unknown?.length ?? 0) > 0) continue;
    const head = toBinary(desc, rest as unknown as MessageShape<D>);
    // The Any's own fields up to its value's bytes (type_url, then value's tag and length), and the
    // envelope's tag and length for the Any: small, written by protobuf-es's own writer.
    const anyHead = new BinaryWriter();
    if (any.typeUrl !== "") anyHead.tag(1, WireType.LengthDelimited).string(any.typeUrl);
    const anyPrefix = anyHead.tag(2, WireType.LengthDelimited).uint32(any.value.length).finish();
    const fieldPrefix = new BinaryWriter()
      .tag(f.number, WireType.LengthDelimited)
      .uint32(anyPrefix.length + any.value.length)
      .finish();
    // Every byte is written below, so the allocation need not be zeroed.
    const out = Buffer.allocUnsafe(head.length + fieldPrefix.length + anyPrefix.length + any.value.length);
    out.set(head, 0);
    out.set(fieldPrefix, head.length);
    out.set(anyPrefix, head.length + fieldPrefix.length);
    out.set(any.value, head.length + fieldPrefix.length + anyPrefix.length);
    return out;
  }
  return toBinary(desc, message);
}
