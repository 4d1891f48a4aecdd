import { createHash } from "node:crypto";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Witness } from "./witness.js";

/**
 * The witness's HTTP interface (c2sp.org/tlog-witness): `POST /add-checkpoint` (submission prefix) and
 * `GET /<hex SHA-256 of the origin>/checkpoint` (monitoring prefix: the latest cosigned checkpoint,
 * 404 before the first). Bodies over 64 KiB are refused (63 proof lines and a note fit well within it).
 * `GET /healthz`: 200 with each log it cosigns and the size it last cosigned (null before the first):
 * what it already publishes, never its key or state path.
 */
export function witnessApp(w: Witness, origins: Iterable<string>): Hono {
  const list = [...origins];
  const byHash = new Map(list.map((o) => [createHash("sha256").update(o).digest("hex"), o]));
  return new Hono()
    .get("/healthz", (c) => {
      const logs = list.map((origin) => {
        const size = w.latest(origin)?.split("\n")[1];
        return { origin, size: size === undefined ? null : Number(size) };
      });
      return c.json({ status: "ok", logs }, 200, { "cache-control": "no-store" });
    })
    .post(
      "/add-checkpoint",
      bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.text("request body over 64 KiB\n", 413) }),
      async (c) => {
        const a = w.addCheckpoint(await c.req.text());
        return c.body(a.body, a.status, { "content-type": a.contentType });
      },
    )
    .get("/:hash/checkpoint", (c) => {
      const origin = byHash.get(c.req.param("hash"));
      const note = origin === undefined ? undefined : w.latest(origin);
      if (note === undefined) return c.text("no checkpoint cosigned for this log\n", 404);
      return c.body(note, 200, { "content-type": "text/plain; charset=utf-8" });
    });
}
