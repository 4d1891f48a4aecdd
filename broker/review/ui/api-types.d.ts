// The review API's answers as the page expects them (README, "Review API"). They are the server's word:
// what the page verifies (hashes, proofs, signatures) it checks the shape of before relying on it, so a
// server that sends something else is caught by those checks, not by these types.

export interface TreeHeadJson {
  log_id: string;
  tree_size: number;
  root_hash: string;
  timestamp: number;
  signature: string;
  public_key: string;
}

export interface InclusionProofJson {
  index: number;
  tree_size: number;
  leaf_hash: string;
  audit_path: string[];
}

export interface ConsistencyProofJson {
  first: number;
  second: number;
  proof: string[];
}

/** An exchange record as proto JSON with proto field names; time in milliseconds, decision a short word. */
export type RecordJson = Record<string, unknown> & {
  time?: number;
  exchange_id?: string;
  consumer?: string;
  service?: string;
  purpose?: string;
  decision?: string;
  status?: string;
};

export interface EntriesJson {
  entries: { index: number; leaf: string; leaf_hash: string; record: RecordJson | null }[];
}

export interface ExchangesJson {
  exchanges: { index: number; record: RecordJson | null }[];
  next_cursor: string | null;
}

export interface ExchangeJson {
  index: number;
  record: RecordJson | null;
  trace_url: string | null;
  leaf_hash: string;
  inclusion?: { tree_size: number; audit_path: string[]; root_hash: string };
}

export interface AccessesJson {
  accesses: {
    time: number;
    consumer: string;
    service: string;
    purpose: string;
    decision: string;
    status: string;
    fields_released: string[];
    exchange_id: string;
  }[];
  next_cursor: string | null;
}

export interface AlertsJson {
  from: number;
  to: number;
  complete: boolean;
  scanned_to: number;
  rules: Record<string, unknown>;
  alerts: {
    rule: string;
    consumer: string;
    first_at: number;
    last_at: number;
    count: number;
    truncated: boolean;
    summary: string;
    exchanges?: { exchange_id: string }[];
  }[];
}

/** `GET /v1/stats/exchanges` (broker/review/routes/stats.ts answers with this type). */
export interface ExchangeStatsJson {
  from: number;
  to: number;
  bucket_ms: number;
  /** The start of each bucket, ms since the epoch; every list below has one count per bucket. */
  times: number[];
  /** Exchanges per consumer agency ("" for a caller that could not be identified), every decision. */
  agencies: { agency: string; counts: number[] }[];
  /** Exchanges per decision, every agency. */
  decisions: { decision: string; counts: number[] }[];
  /** Alerts per bucket of their first exchange, every rule. */
  alerts: number[];
  /** False when the alert scan stopped at its bound before `to`: alerts after `alerts_scanned_to` are not counted. */
  alerts_complete: boolean;
  alerts_scanned_to: number;
}
