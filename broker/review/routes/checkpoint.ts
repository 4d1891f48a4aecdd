import { type Context, Hono } from "hono";
import { formatTlogProof } from "../../../core/log-format/index.js";
import type { CheckpointSource } from "../../indexer/checkpoint-signer.js";
import type { LogIndexReader } from "../../indexer/log-index.js";
import { httpError } from "../http-errors.js";
import type { ReviewParams } from "../params.js";

/** The C2SP checkpoint's media type: a signed note is plain UTF-8 text. */
export const CHECKPOINT_CONTENT_TYPE = "text/plain; charset=utf-8";

/**
 * What anyone may read without a token (README, "Checkpoints"): the latest checkpoint, which holds only
 * the log's ID, size and root hash (with witnessing, the latest one the policy's quorum cosigned, and
 * the log-signed one at `/checkpoint/signed`). Entries stay behind the reviewer token.
 */
export function publicLogRoutes(
  checkpoints: CheckpointSource | undefined,
  signed?: CheckpointSource | undefined,
): Hono {
  const serve = (source: CheckpointSource | undefined, none: string) => (c: Context) => {
    if (!source) throw httpError(404, "this API serves no checkpoints");
    const latest = source.latest();
    if (!latest) throw httpError(503, none);
    return c.body(latest.note, 200, {
      "content-type": CHECKPOINT_CONTENT_TYPE,
      "cache-control": "no-store",
    });
  };
  return new Hono()
    .get(
      "/checkpoint",
      serve(
        checkpoints,
        signed ? "no checkpoint witnessed by the policy's quorum yet" : "no tree head signed yet",
      ),
    )
    .get("/checkpoint/signed", serve(signed ?? checkpoints, "no tree head signed yet"));
}

/**
 * `GET /v1/log/tlog-proof?index=I` (reviewer token): a C2SP tlog-proof of leaf I against the latest
 * checkpoint, `extra` = the entry's exchange ID; what `xbus log proof` writes for a receipt. A leaf newer
 * than that checkpoint is a 404 saying so (try again after the next checkpoint). With witnessing,
 * `GET /v1/log/witness-policy` serves the C2SP tlog-policy those checkpoints meet, as the log service
 * read it (the review UI checks proofs by it); 404 without.
 */
export function tlogProofRoutes(
  index: LogIndexReader,
  checkpoints: CheckpointSource | undefined,
  p: ReviewParams,
  witnessPolicy?: string,
): Hono {
  return new Hono()
    .get("/v1/log/witness-policy", (c) => {
      if (witnessPolicy === undefined) throw httpError(404, "this log has no witness policy");
      return c.body(witnessPolicy, 200, {
        "content-type": CHECKPOINT_CONTENT_TYPE,
        "cache-control": "no-store",
      });
    })
    .get("/v1/log/tlog-proof", p.tlogProof, (c) => {
      if (!checkpoints) throw httpError(404, "this API serves no checkpoints");
      const { index: leaf } = c.req.valid("query");
      const latest = checkpoints.latest();
      if (!latest || leaf >= latest.size)
        throw httpError(
          404,
          `leaf ${leaf} is not in the latest checkpoint (size ${latest?.size ?? 0}) yet; try again shortly`,
        );
      const entry = index.entries(leaf, 1)[0];
      const exchangeId = entry?.record?.exchangeId;
      const body = formatTlogProof({
        ...(exchangeId && { extra: Buffer.from(exchangeId) }),
        index: leaf,
        proof: index.tree.inclusionProof(leaf, latest.size),
        checkpoint: latest.note,
      });
      return c.body(body, 200, { "content-type": CHECKPOINT_CONTENT_TYPE });
    });
}
