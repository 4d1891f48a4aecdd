import type { JetStreamManager } from "@nats-io/jetstream";
import { leafHash } from "../../core/log-format/index.js";
import { LOG_STREAM } from "../log/jetstream-log.js";
import type { LogIndexReader } from "./log-index.js";

/** A sequence where the stream no longer holds the leaf the index stored (and signed heads over). */
export interface ResumeMismatch {
  seq: number;
  /** Lowercase hex. */
  indexLeafHash: string;
  /** Lowercase hex; undefined when the stream holds no message at `seq`. */
  streamLeafHash: string | undefined;
}

/**
 * Before the indexer resumes on a non-empty index: does the stream still hold, at the first and the
 * last indexed sequence, the exact bytes the index hashed into its tree? Two direct reads by sequence,
 * so a restart stays cheap whatever the log's length; a stream deleted and recreated, or rewritten in
 * nats-server's store, differs at one of them unless the rewrite kept both ends (`xbus log reindex`
 * checks every leaf). A message gone because the stream's limits aged it out (the stream's first
 * sequence is past it) is not a mismatch; one gone while the stream says it should be there is.
 */
export async function checkResume(
  jsm: JetStreamManager,
  index: LogIndexReader,
): Promise<ResumeMismatch | undefined> {
  const last = index.indexedSeq;
  if (last === 0) return undefined;
  for (const seq of last === 1 ? [1] : [last, 1]) {
    const indexLeafHash = index.tree.leafHash(seq - 1).toString("hex");
    const msg = await jsm.streams.getMessage(LOG_STREAM, { seq });
    if (msg) {
      const streamLeafHash = leafHash(msg.data).toString("hex");
      if (streamLeafHash !== indexLeafHash) return { seq, indexLeafHash, streamLeafHash };
      continue;
    }
    const { first_seq } = (await jsm.streams.info(LOG_STREAM)).state;
    // first_seq is 0 in a stream that never held a message.
    if (first_seq <= seq) return { seq, indexLeafHash, streamLeafHash: undefined };
  }
  return undefined;
}
