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
 * One page of `limit` rows, newest first, from `read(n)` (at most n rows below the cursor). It reads one
 * row past the page to tell whether another page follows, so the last page says so itself
 * (`next_cursor` null) instead of leaving the client to fetch an empty one.
 */
export function onePage(
  limit: number,
  read: (n: number) => IndexedEntry[],
): { rows: IndexedEntry[]; nextCursor: string | null } {
  const found = read(limit + 1);
  const rows = found.slice(0, limit);
  const last = rows.at(-1);
  return { rows, nextCursor: found.length > limit && last ? String(last.index) : null };
}
