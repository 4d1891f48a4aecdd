import { Hono } from "hono";
import { leafHash } from "../../../core/log-format/index.js";
import { subjectRef } from "../../log/subject-ref.js";
import { httpError } from "../http-errors.js";
import type { ReviewParams } from "../params.js";
import { entryJson, onePage } from "../record-json.js";
import type { ReviewContext } from "./context.js";

/** Searching the exchanges, and one exchange with the proof that it is in the log. */
export function exchangeRoutes(o: ReviewContext, p: ReviewParams): Hono {
  return new Hono()
    .get("/v1/exchanges", p.exchanges, (c) => {
      const q = c.req.valid("query");
      const body = onePage({
        key: "exchanges",
        limit: q.limit,
        read: (n) =>
          o.index.exchanges({
            ...(q.consumer !== undefined && { consumer: q.consumer }),
            ...(q.agency !== undefined && { agency: q.agency }),
            ...(q.service !== undefined && { service: q.service }),
            ...(q.purpose !== undefined && { purpose: q.purpose }),
            ...(q.decision !== undefined && { decision: q.decision }),
            ...(q.subject !== undefined && { subjectRef: subjectRef(o.logSecret, q.subject) }),
            ...(q.from !== undefined && { from: q.from }),
            ...(q.to !== undefined && { to: q.to }),
            ...(q.cursor !== undefined && { before: q.cursor }),
            limit: n,
          }),
        item: entryJson,
        tooLarge: (e, bytes) => ({
          index: e.index,
          record: null,
          too_large: { bytes, exchange_id: e.record?.exchangeId ?? null },
        }),
      });
      return c.body(body, 200, { "content-type": "application/json" });
    })
    .get("/v1/exchanges/:id", p.none, p.exchangeId, (c) => {
      const e = o.index.exchange(c.req.valid("param").id);
      if (!e) throw httpError(404, "no exchange with this id in the log (it may not be indexed yet)");
      const head = o.index.latestTreeHead();
      const treeSize = head && head.treeSize > e.index ? head.treeSize : o.index.treeSize;
      const traceId = e.record?.traceId ?? "";
      return c.json({
        ...entryJson(e),
        trace_url:
          o.traceUrlTemplate && /^[0-9a-f]{32}$/.test(traceId)
            ? o.traceUrlTemplate.replaceAll("{trace_id}", traceId)
            : null,
        leaf_hash: leafHash(e.leaf).toString("hex"),
        inclusion: {
          tree_size: treeSize,
          audit_path: o.index.tree.inclusionProof(e.index, treeSize).map((h) => h.toString("hex")),
          root_hash: o.index.tree.root(treeSize).toString("hex"),
        },
      });
    });
}
