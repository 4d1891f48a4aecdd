import { Hono } from "hono";
import { httpError } from "../http-errors.js";
import type { ReviewParams } from "../params.js";
import { recordJson } from "../record-json.js";
import type { ReviewContext } from "./context.js";

/** The log itself: its latest signed tree head, proofs against any size up to it, and its leaves. */
export function logRoutes({ index, publicKey }: ReviewContext, p: ReviewParams): Hono {
  return new Hono()
    .get("/v1/log/tree-head", p.none, (c) => {
      const head = index.latestTreeHead();
      if (!head) throw httpError(503, "no tree head signed yet");
      return c.json({
        log_id: head.logId,
        tree_size: head.treeSize,
        root_hash: head.rootHash,
        timestamp: head.timestamp,
        signature: head.signature,
        public_key: publicKey,
      });
    })
    .get("/v1/log/proof/inclusion", p.inclusion, (c) => {
      const q = c.req.valid("query");
      return c.json({
        index: q.index,
        tree_size: q.tree_size,
        leaf_hash: index.tree.leafHash(q.index).toString("hex"),
        audit_path: index.tree.inclusionProof(q.index, q.tree_size).map((h) => h.toString("hex")),
      });
    })
    .get("/v1/log/proof/consistency", p.consistency, (c) => {
      const { first, second } = c.req.valid("query");
      return c.json({
        first,
        second,
        proof: index.tree.consistencyProof(first, second).map((h) => h.toString("hex")),
      });
    })
    .get("/v1/log/entries", p.entries, (c) => {
      const { start, limit } = c.req.valid("query");
      return c.json({
        entries: index.entries(start, limit).map((e) => ({
          index: e.index,
          leaf: e.leaf.toString("base64"),
          leaf_hash: index.tree.leafHash(e.index).toString("hex"),
          record: e.record ? recordJson(e.record) : null,
        })),
      });
    });
}
