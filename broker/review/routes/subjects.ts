import { Hono } from "hono";
import { subjectRef } from "../../log/subject-ref.js";
import type { ReviewParams } from "../params.js";
import { onePage, recordJson } from "../record-json.js";
import type { ReviewContext } from "./context.js";

/** A citizen's accesses: who read which service about them, when, for what, with what outcome. */
export function subjectRoutes(o: ReviewContext, p: ReviewParams): Hono {
  return new Hono().get("/v1/subjects/:subjectId/accesses", p.subjectId, p.accesses, (c) => {
    const { subjectId } = c.req.valid("param");
    const q = c.req.valid("query");
    const { rows, nextCursor } = onePage(q.limit, (n) =>
      o.index.exchanges({
        subjectRef: subjectRef(o.logSecret, subjectId),
        ...(q.from !== undefined && { from: q.from }),
        ...(q.to !== undefined && { to: q.to }),
        ...(q.cursor !== undefined && { before: q.cursor }),
        limit: n,
      }),
    );
    return c.json({
      accesses: rows.flatMap((e) =>
        e.record
          ? [
              {
                time: Number(e.record.time),
                consumer: e.record.consumer,
                service: e.record.service,
                purpose: e.record.purpose,
                decision: recordJson(e.record).decision,
                status: e.record.status,
                fields_released: e.record.fieldsReleased,
                exchange_id: e.record.exchangeId,
              },
            ]
          : [],
      ),
      next_cursor: nextCursor,
    });
  });
}
