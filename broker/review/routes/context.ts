import type { LogIndexReader } from "../../indexer/log-index.js";
import type { AlertConfig } from "../alert-options.js";

/** What the route groups read, resolved once from ReviewOptions by createReviewApp. */
export interface ReviewContext {
  /** Read only: the review API never writes the index. */
  index: LogIndexReader;
  /** The raw Ed25519 key that signs tree heads, base64, as `GET /v1/log/tree-head` serves it. */
  publicKey: string;
  logSecret: Uint8Array;
  traceUrlTemplate: string | undefined;
  alerts: AlertConfig;
  /** The clock delayed disclosure is judged by (ms since the epoch). */
  now: () => number | Promise<number>;
}
