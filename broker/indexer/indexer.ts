import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../core/index.js";
import { LOG_STREAM } from "../log/jetstream-log.js";
import type { HeadPublisher } from "./head-publisher.js";
import type { LogIndex } from "./log-index.js";
import { checkResume } from "./resume-check.js";

export interface IndexerOptions {
  nats: NatsConnection;
  index: LogIndex;
  logger: Logger;
  /** Sign a tree head at least this often while entries arrive. Default 1000 ms. */
  treeHeadEveryMs?: number;
  /**
   * Called once if the indexer stops on its own because the index and the stream disagree (it then
   * signs nothing more), with a line saying why: what readiness reports.
   */
  onHalt?: (reason: string) => void;
  /**
   * Publishes heads through the KV lock (the log service: one signer at a time, heads only ever
   * extend the last). Without it heads are signed into the index alone (`xbus log reindex`, tests).
   */
  publisher?: HeadPublisher;
}

export interface Indexer {
  /** Entries in the stream not yet in the index, as of the last check. */
  lag(): Promise<number>;
  stop(): Promise<void>;
}

/** Logged, and reported through onHalt, when the stream no longer holds what the index resumed from. */
export const REWRITTEN_OR_LOST =
  "the log stream no longer holds what the index signed: rewritten or lost; run xbus log reindex to see how far it extends the last signed head";

const BATCH = 512;
const FLUSH_MS = 20;
/** A consumer that delivers nothing this long while the stream holds entries the index lacks is replaced. */
const STALL_MS = 5000;

/**
 * Follows the log stream in order into the index, from where it stopped
 * (after a crash too: the last indexed sequence is stored with each batch),
 * and signs a tree head whenever the tree has grown, at least every second.
 * Resuming a non-empty index, it first checks that the stream still holds the
 * leaves it indexed (checkResume); if not, it logs an error, reports it through
 * onHalt and indexes and signs nothing: new heads over a rewritten history would
 * vouch for it. The broker keeps appending to the stream meanwhile.
 */
export async function startIndexer(o: IndexerOptions): Promise<Indexer> {
  const js = jetstream(o.nats);
  const jsm = await jetstreamManager(o.nats);
  const lag = async () => {
    const info = await jsm.streams.info(LOG_STREAM);
    return Math.max(0, info.state.last_seq - o.index.indexedSeq);
  };
  const mismatch = await checkResume(jsm, o.index);
  if (mismatch) {
    const { seq, indexLeafHash, streamLeafHash } = mismatch;
    o.logger.error(
      { seq, index_leaf_hash: indexLeafHash, stream_leaf_hash: streamLeafHash ?? null },
      REWRITTEN_OR_LOST,
    );
    o.onHalt?.(
      `sequence ${seq}: the index holds leaf hash ${indexLeafHash}, the stream ${streamLeafHash ? `leaf hash ${streamLeafHash}` : "no message there"}; ${REWRITTEN_OR_LOST}`,
    );
    return { lag, stop: async () => {} };
  }
  // An ordered consumer lives on one core node. If that node dies, nats.js asks the dead node whether the
  // consumer still exists, times out, and retries every 30 s without making a new one (and, when this
  // connection was on that node too, stops watching heartbeats): indexing, and so signing, would stop
  // until the node returns. A watchdog ends a consumer that delivers nothing for STALL_MS while the
  // stream holds entries the index lacks, and a fresh one reads on from the index's next sequence.
  const open = async () => {
    const consumer = await js.consumers.get(LOG_STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: o.index.indexedSeq + 1,
    });
    return consumer.consume();
  };
  let messages = await open();
  let stopping = false;
  let batch: { seq: number; leaf: Uint8Array }[] = [];
  let failed: unknown;
  const flush = () => {
    if (batch.length === 0 || failed) return;
    const items = batch;
    batch = [];
    try {
      o.index.appendBatch(items);
    } catch (err) {
      failed = err;
      const reason = "indexer stopped: the index and the log stream disagree; run `xbus log reindex`";
      o.logger.error({ err }, reason);
      o.onHalt?.(reason);
      messages.stop();
    }
  };
  const flushTimer = setInterval(flush, FLUSH_MS);
  let signedSize = o.index.latestTreeHead()?.treeSize ?? -1;
  const signLocally = () => {
    if (o.index.treeSize === signedSize) return;
    const head = o.index.signTreeHead();
    signedSize = head.treeSize;
    o.logger.debug({ tree_size: head.treeSize, root_hash: head.rootHash }, "tree head signed");
  };
  // Rounds through the lock never overlap: a tick while one runs (a slow KV) is skipped, not queued.
  let round: Promise<void> | undefined;
  const publisher = o.publisher;
  const sign = async (): Promise<void> => {
    if (!publisher) return signLocally();
    if (round) return round;
    round = publisher
      .round()
      .catch((err: unknown) => o.logger.warn({ err }, "tree-head round failed; retried next round"))
      .finally(() => {
        round = undefined;
      });
    return round;
  };
  await sign();
  const headTimer = setInterval(() => void sign(), o.treeHeadEveryMs ?? 1000);
  const loop = (async () => {
    while (!stopping && !failed) {
      const current = messages;
      let silent = false;
      let heardAt = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - heardAt < STALL_MS) return;
        heardAt = Date.now();
        lag()
          .then((behind) => {
            if (behind === 0 || current !== messages) return;
            silent = true;
            current.stop();
          })
          .catch(() => {});
      }, STALL_MS / 5);
      try {
        for await (const m of current) {
          heardAt = Date.now();
          batch.push({ seq: m.seq, leaf: m.data });
          if (batch.length >= BATCH) flush();
        }
      } finally {
        clearInterval(watchdog);
      }
      if (stopping || failed || !silent) break;
      flush();
      o.logger.warn(
        { indexed_seq: o.index.indexedSeq, silent_ms: STALL_MS },
        "the log stream's consumer went silent while entries wait (its core node gone?); reading on through a new one",
      );
      for (;;) {
        try {
          messages = await open();
          break;
        } catch (err) {
          if (stopping) return;
          o.logger.warn({ err }, "could not open a new consumer of the log stream; retrying");
          await new Promise((r) => setTimeout(r, STALL_MS / 5));
        }
      }
    }
  })().catch((err: unknown) => o.logger.error({ err }, "indexer consumer failed"));

  return {
    lag,
    async stop() {
      stopping = true;
      messages.stop();
      await loop;
      clearInterval(flushTimer);
      clearInterval(headTimer);
      flush();
      await round;
      if (!failed) await sign();
      await publisher?.release();
    },
  };
}
