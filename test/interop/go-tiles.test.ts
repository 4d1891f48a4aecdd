import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { LOG_ID, writeTestLogIndex } from "../helpers/log-index.js";
import { serveInSuite } from "../helpers/serve-in-suite.js";
import { buildTilecheck, tlogcheck } from "./go-build.js";

// An independent tile client reads our public log: Go's golang.org/x/mod/sumdb/tlog, through
// tlog.TileHashReader over the review API's GET /tile/… routes (test/interop/tilecheck), must find the
// checkpoint's root (tlog.TreeHash), prove the last leaf's inclusion and the tree's consistency with an
// earlier one. The index is of the spec's example size, 70,000 leaves, so tiles of levels 0, 1 and 2,
// full and partial, are read. A proxy in front can alter one tile: Go must then refuse.

const COUNT = 70_000;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
const app = log.reviewApp({ token: randomBytes(24).toString("base64url"), logSecret: randomBytes(32) });
const tampered = { path: "" };
const proxy = new Hono().all("*", async (c) => {
  const res = await app.fetch(c.req.raw);
  if (new URL(c.req.url).pathname !== tampered.path) return res;
  const body = Buffer.from(await res.arrayBuffer());
  body[0] = (body[0] ?? 0) ^ 1;
  return new Response(body, { status: res.status, headers: res.headers });
});
const server = serveInSuite(proxy, () => log.close());
const tmp = mkdtempSync(join(tmpdir(), "xbus-tiles-interop-"));
let bin: string;
beforeAll(async () => {
  bin = await buildTilecheck(tmp);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const root = (size: number) => log.reader.tree.root(size).toString("base64");

describe("Go's tlog.TileHashReader on our /tile routes", () => {
  it("recomputes the checkpoint's root from our tiles and proves the last leaf's inclusion", async () => {
    const { code, out } = await tlogcheck(bin, [log.vkey, server.url]);
    expect(out).toMatch(
      new RegExp(`^ok ${LOG_ID} ${COUNT} ${root(COUNT).replace(/[+/]/g, "\\$&")} \\d+\\n$`),
    );
    expect(code).toBe(0);
  });

  it("proves consistency with earlier trees from the tiles", async () => {
    for (const earlier of [1, 256, 65_536, 65_537, 69_999, COUNT])
      expect(await tlogcheck(bin, [log.vkey, server.url, String(earlier), root(earlier)])).toMatchObject({
        code: 0,
      });
    expect(await tlogcheck(bin, [log.vkey, server.url, "65537", root(65_536)])).toMatchObject({
      code: 1,
      out: expect.stringMatching(/^FAIL: tlog.CheckTree/),
    });
  });

  it("refuses a tile with one bit changed, at each level, full or partial", async () => {
    try {
      // The last three make the root and the last leaf's proof; a consistency proof from 1,000 reads the full level-1 tile.
      for (const [path, earlier] of [
        ["/tile/0/273.p/112", undefined],
        ["/tile/1/001.p/17", undefined],
        ["/tile/2/000.p/1", undefined],
        ["/tile/1/000", 1000],
      ] as const) {
        tampered.path = path;
        const { code, out } = await tlogcheck(
          bin,
          earlier ? [log.vkey, server.url, String(earlier), root(earlier)] : [log.vkey, server.url],
        );
        expect([path, code]).toEqual([path, 1]);
        expect(out).toMatch(/^FAIL: /);
      }
    } finally {
      tampered.path = "";
    }
  });
});
