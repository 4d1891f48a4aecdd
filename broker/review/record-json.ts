import { toJson } from "@bufbuild/protobuf";
import { type ExchangeRecord, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import type { IndexedEntry } from "../indexer/log-index.js";

/** Proto JSON with proto field names; time as a number of milliseconds, decision as a short word. */
export function recordJson(r: ExchangeRecord): Record<string, unknown> {
  const json = toJson(ExchangeRecordSchema, r, {
    useProtoFieldName: true,
    alwaysEmitImplicit: true,
  }) as Record<string, unknown>;
  json.time = Number(r.time);
  json.decision = String(json.decision ?? "")
    .replace(/^DECISION_/, "")
    .toLowerCase();
  return json;
}

/** A leaf of the log in a list: its index, and its record when the leaf decodes as one. */
export function entryJson(e: IndexedEntry) {
  return { index: e.index, record: e.record ? recordJson(e.record) : null };
}

/**
 * The most bytes a page of `/v1/exchanges` or `/v1/subjects/{id}/accesses` answers with, envelope
 * included (1 MiB): a page of the longest limit (1000) of the largest records the log may hold would
 * otherwise run to hundreds of megabytes, serialised in one piece.
 */
export const PAGE_BYTES = 1024 * 1024;
/** What the envelope around the items may take: the key names and `next_cursor` (a leaf index). */
const ENVELOPE_BYTES = 128;

/**
 * One page, newest first, as the JSON body `{"<key>":[…],"next_cursor":…}`: at most `limit` rows from
 * `read(n)` (at most n rows below the cursor) and at most `maxBytes` bytes. It reads one row past the
 * page to tell whether another page follows, so the last page says so itself (`next_cursor` null)
 * instead of leaving the client to fetch an empty one. A page that is full in bytes before `limit` ends
 * early, its cursor on its last row. A single item larger than a page is replaced by `tooLarge(row)`
 * (the client reads that row on its own); `item` returning undefined leaves the row out.
 */
export function onePage<T>(
  o: {
    key: string;
    limit: number;
    read: (n: number) => IndexedEntry[];
    item: (row: IndexedEntry) => T | undefined;
    tooLarge: (row: IndexedEntry, bytes: number) => unknown;
  },
  maxBytes = PAGE_BYTES,
): string {
  const found = o.read(o.limit + 1);
  const budget = maxBytes - ENVELOPE_BYTES;
  const parts: string[] = [];
  let bytes = 0;
  let taken = 0;
  for (; taken < Math.min(o.limit, found.length); taken++) {
    const row = found[taken] as IndexedEntry;
    const value = o.item(row);
    if (value === undefined) continue;
    let text = JSON.stringify(value);
    let size = Buffer.byteLength(text) + 1;
    if (size > budget) {
      text = JSON.stringify(o.tooLarge(row, size - 1));
      size = Buffer.byteLength(text) + 1;
    }
    if (bytes + size > budget) break;
    parts.push(text);
    bytes += size;
  }
  const last = found[taken - 1];
  const more = taken < found.length && last !== undefined;
  return `{${JSON.stringify(o.key)}:[${parts.join(",")}],"next_cursor":${more ? JSON.stringify(String(last.index)) : "null"}}`;
}
