import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../core/logger.js";
import { LOG_STREAM } from "../log/jetstream-log.js";
import type { LogIndex } from "./log-index.js";

export interface IndexerOptions {
  nats: NatsConnection;
  index: LogIndex;
  logger: Logger;
  /** Sign a tree head at least this often while entries arrive. Default 1000 ms. */
  treeHeadEveryMs?: number;
}

export interface Indexer {
  /** Entries in the stream not yet in the index, as of the last check. */
  lag(): Promise<number>;
  stop(): Promise<void>;
}

const BATCH = 512;
const FLUSH_MS = 20;

/**
 * Follows the log stream in order into the index, from where it stopped
 * (after a crash too: the last indexed sequence is stored with each batch),
 * and signs a tree head whenever the tree has grown, at least every second.
 */
export async function startIndexer(o: IndexerOptions): Promise<Indexer> {
  const js = jetstream(o.nats);
  const jsm = await jetstreamManager(o.nats);
  const consumer = await js.consumers.get(LOG_STREAM, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: o.index.indexedSeq + 1,
  });
  const messages = await consumer.consume();
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
      o.logger.error(
        { err },
        "indexer stopped: the index and the log stream disagree; run `xbus log reindex`",
      );
      messages.stop();
    }
  };
  const flushTimer = setInterval(flush, FLUSH_MS);
  let signedSize = o.index.latestTreeHead()?.treeSize ?? -1;
  const sign = () => {
    if (o.index.treeSize === signedSize) return;
    const head = o.index.signTreeHead();
    signedSize = head.treeSize;
    o.logger.debug({ tree_size: head.treeSize, root_hash: head.rootHash }, "tree head signed");
  };
  sign();
  const headTimer = setInterval(sign, o.treeHeadEveryMs ?? 1000);
  const loop = (async () => {
    for await (const m of messages) {
      batch.push({ seq: m.seq, leaf: m.data });
      if (batch.length >= BATCH) flush();
    }
  })().catch((err: unknown) => o.logger.error({ err }, "indexer consumer failed"));

  return {
    async lag() {
      const info = await jsm.streams.info(LOG_STREAM);
      return Math.max(0, info.state.last_seq - o.index.indexedSeq);
    },
    async stop() {
      messages.stop();
      await loop;
      clearInterval(flushTimer);
      clearInterval(headTimer);
      flush();
      if (!failed) sign();
    },
  };
}
