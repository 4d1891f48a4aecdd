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
    const body = onePage({
      key: "accesses",
      limit: q.limit,
      read: (n) =>
        o.index.exchanges({
          subjectRef: subjectRef(o.logSecret, subjectId),
          ...(q.from !== undefined && { from: q.from }),
          ...(q.to !== undefined && { to: q.to }),
          ...(q.cursor !== undefined && { before: q.cursor }),
          limit: n,
        }),
      item: (e) =>
        e.record && {
          time: Number(e.record.time),
          consumer: e.record.consumer,
          service: e.record.service,
          purpose: e.record.purpose,
          decision: recordJson(e.record).decision,
          status: e.record.status,
          fields_released: e.record.fieldsReleased,
          exchange_id: e.record.exchangeId,
        },
      // Bounded fields only, whatever the record held around them.
      tooLarge: (e) => ({
        time: Number(e.record?.time ?? 0),
        exchange_id: e.record?.exchangeId ?? "",
        too_large: true,
      }),
    });
    return c.body(body, 200, { "content-type": "application/json" });
  });
}
