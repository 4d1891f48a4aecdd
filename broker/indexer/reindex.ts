import type { KeyObject } from "node:crypto";
import { existsSync, renameSync, rmSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import { createLogger } from "../../core/logger.js";
import { startIndexer } from "./indexer.js";
import { LogIndex } from "./log-index.js";
import { lastSignedHead, rebuiltExtends } from "./reindex-check.js";

export interface ReindexOptions {
  /** The index to rebuild; replaced only when the rebuilt tree extends its last signed head. */
  path: string;
  logId: string;
  /** The log's Ed25519 key, which signs the rebuilt tree's heads. */
  logKey: KeyObject;
  /** NATS servers holding the log stream. */
  servers: string | string[];
  /** Mutual TLS to NATS, PEM text. */
  tls?: { ca: string; cert: string; key: string };
  /** Entries indexed so far and in all, while the rebuild runs. */
  onProgress?: (done: number, total: number) => void;
  /** Said once when the old index cannot be read: the rebuilt one then replaces it unchecked. */
  onOldIndexUnreadable?: (why: string) => void;
}

export type ReindexResult =
  | {
      ok: true;
      treeSize: number;
      rootHash: string;
      /** The old index's last signed head, which the rebuilt tree was shown to extend. */
      extended?: { treeSize: number };
    }
  | { ok: false; problem: string };

/** An SQLite index in WAL mode: the database and the two files beside it. */
const INDEX_FILE_SUFFIXES = ["", "-wal", "-shm"] as const;
/** How often the rebuild asks the stream how far it still has to go. */
const POLL_MS = 200;

function removeIndexFiles(path: string): void {
  for (const s of INDEX_FILE_SUFFIXES) rmSync(path + s, { force: true });
}

/**
 * Rebuilds the index at `path` from the log stream alone (`xbus log reindex`). The new index is built
 * beside the old one (`PATH.rebuilding`), which stays until the rebuilt tree is shown to extend the last
 * head it signed, which reviewers may hold: a wrong NATS, or a stream that no longer holds the log the old
 * index signed, must not cost it, nor be re-signed as a repair. An old index that cannot be read (the
 * usual reason to reindex) is replaced without that check. A broker running on `path` keeps the index it
 * has open (the replaced file, unlinked) and takes the rebuilt one at its next start.
 */
export async function reindex(o: ReindexOptions): Promise<ReindexResult> {
  const old = lastSignedHead(o.path, o.logId);
  if (old.unreadable) o.onOldIndexUnreadable?.(old.unreadable);
  const nc = await connect({ servers: o.servers, ...(o.tls && { tls: o.tls }) });
  const building = `${o.path}.rebuilding`;
  let head: ReturnType<LogIndex["latestTreeHead"]>;
  let growth: Awaited<ReturnType<typeof rebuiltExtends>> | undefined;
  try {
    removeIndexFiles(building);
    const index = new LogIndex(building, o.logId, o.logKey);
    try {
      const indexer = await startIndexer({
        nats: nc,
        index,
        logger: createLogger({ component: "reindex" }, "warn"),
      });
      for (;;) {
        const lag = await indexer.lag();
        o.onProgress?.(index.treeSize, index.treeSize + lag);
        if (lag === 0) break;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      await indexer.stop();
      head = index.latestTreeHead();
      growth = old.head && (await rebuiltExtends(old.head, index));
    } finally {
      index.close();
    }
  } finally {
    await nc.close();
  }
  if (growth && !growth.ok) {
    removeIndexFiles(building);
    return { ok: false, problem: growth.problem };
  }
  removeIndexFiles(o.path);
  for (const s of INDEX_FILE_SUFFIXES) if (existsSync(building + s)) renameSync(building + s, o.path + s);
  return {
    ok: true,
    treeSize: head?.treeSize ?? 0,
    rootHash: head?.rootHash ?? "",
    ...(old.head && { extended: { treeSize: old.head.treeSize } }),
  };
}
