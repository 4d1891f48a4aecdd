import { Hono } from "hono";
import type { CheckpointOf } from "../../indexer/checkpoint-signer.js";
import type { LogIndexReader } from "../../indexer/log-index.js";
import { httpError } from "../http-errors.js";

/** The C2SP checkpoint's media type: a signed note is plain UTF-8 text. */
export const CHECKPOINT_CONTENT_TYPE = "text/plain; charset=utf-8";

/**
 * What anyone may read without a token (README, "Checkpoints"): the latest checkpoint, which holds only
 * the log's ID, size and root hash. Entries stay behind the reviewer token.
 */
export function publicLogRoutes(index: LogIndexReader, checkpointOf: CheckpointOf | undefined): Hono {
  return new Hono().get("/checkpoint", (c) => {
    if (!checkpointOf) throw httpError(404, "this API serves no checkpoints");
    const head = index.latestTreeHead();
    if (!head) throw httpError(503, "no tree head signed yet");
    return c.body(checkpointOf(head), 200, {
      "content-type": CHECKPOINT_CONTENT_TYPE,
      "cache-control": "no-store",
    });
  });
}
