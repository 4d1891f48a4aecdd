import { parseWorkloadId } from "../../core/contract/index.js";
import type { ExchangeRecord } from "../../proto/gen/xbus/v1/log_pb.js";
import type { IndexedEntry, LogIndexReader } from "../indexer/log-index.js";
import { recordJson } from "../review/record-json.js";

/** A purpose as the citizen page shows it: the bundle's words and the law it rests on. */
export interface PurposeText {
  readonly description: string;
  readonly legalBasis: string;
}

/** One exchange about the citizen, in the words of the citizen page (citizen-app.ts's API). */
export interface AccessRow {
  index: number;
  exchange_id: string;
  time: number;
  agency: string;
  system: string;
  consumer: string;
  service: string;
  purpose: string;
  purpose_description: string;
  legal_basis: string;
  decision: string;
  status: string;
  fields_released: string[];
  fields_withheld: string[];
  consent_id: string | null;
  leaf_hash: string;
  /**
   * Delayed disclosure: when a covert exchange became visible here (ms since the epoch), and the legal
   * order it was made under; null for an exchange shown at once.
   */
  disclosed_at: number | null;
  legal_order_ref: string | null;
}

/** Whether the citizen view may show this record at `now`: not while its delayed disclosure runs. */
export function disclosed(r: ExchangeRecord, now: number): boolean {
  return Number(r.discloseAfter) <= now;
}

/** The most rows one citizen's page lists; a citizen with more sees the newest and the count says so. */
export const MAX_ROWS = 1000;

/** The row of one indexed exchange; undefined for a leaf that does not decode as an exchange record. */
export function accessRow(
  index: LogIndexReader,
  e: IndexedEntry,
  purposes: ReadonlyMap<string, PurposeText>,
): AccessRow | undefined {
  const r = e.record;
  if (!r) return undefined;
  let agency = "";
  let system = r.consumer;
  try {
    const id = parseWorkloadId(r.consumer);
    agency = id.agency;
    system = id.name;
  } catch {
    // A refused caller's claimed identity may not parse: shown as given, with no agency.
  }
  const purpose = purposes.get(r.purpose);
  return {
    index: e.index,
    exchange_id: r.exchangeId,
    time: Number(r.time),
    agency,
    system,
    consumer: r.consumer,
    service: r.service,
    purpose: r.purpose,
    purpose_description: purpose?.description ?? "",
    legal_basis: purpose?.legalBasis ?? "",
    decision: String(recordJson(r).decision),
    status: r.status,
    fields_released: [...r.fieldsReleased],
    fields_withheld: [...r.fieldsWithheld],
    consent_id: r.consentId === "" ? null : r.consentId,
    leaf_hash: index.tree.leafHash(e.index).toString("hex"),
    disclosed_at: r.discloseAfter > 0n ? Number(r.discloseAfter) : null,
    legal_order_ref: r.discloseAfter > 0n && r.legalOrderRef !== "" ? r.legalOrderRef : null,
  };
}
