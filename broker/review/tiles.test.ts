import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../../test/helpers/log-index.js";
import { FULL_TILE_CACHE, PARTIAL_TILE_CACHE, tileRoutes } from "./routes/tiles.js";

// GET /tile/<L>/<N>[.p/<W>] over a real index of 600 leaves (two full level-0 tiles and one of width
// 88; a level-1 tile of width 2), through the whole review app, without a token.

const TOKEN = "tiles-test-token-0123456789abcdef";
const COUNT = 600;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
afterAll(() => log.close());
const app = log.reviewApp({ token: TOKEN, logSecret: randomBytes(32) });
const tree = log.reader.tree;
const nodes = (level: number, start: number, count: number) => Buffer.concat(tree.nodes(level, start, count));

async function tile(path: string) {
  const res = await app.request(path);
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

describe("GET /tile/… (no token)", () => {
  it("serves full tiles, immutable, with the store's hashes", async () => {
    for (const [path, level, start] of [
      ["/tile/0/000", 0, 0],
      ["/tile/0/001", 0, 256],
    ] as const) {
      const { res, body } = await tile(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/octet-stream");
      expect(res.headers.get("cache-control")).toBe(FULL_TILE_CACHE);
      expect(body.equals(nodes(level, start, 256))).toBe(true);
    }
  });

  it("serves partial tiles up to the checkpoint's width, short-lived", async () => {
    for (const [path, level, start, width] of [
      ["/tile/0/002.p/88", 0, 512, 88],
      ["/tile/0/002.p/1", 0, 512, 1],
      ["/tile/0/000.p/17", 0, 0, 17],
      ["/tile/1/000.p/2", 8, 0, 2],
      ["/tile/1/000.p/1", 8, 0, 1],
    ] as const) {
      const { res, body } = await tile(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe(PARTIAL_TILE_CACHE);
      expect(body.equals(nodes(level, start, width))).toBe(true);
    }
  });

  it("answers 404 for a tile beyond the checkpoint, and for a full tile that is still partial", async () => {
    for (const path of [
      "/tile/0/002",
      "/tile/0/002.p/89",
      "/tile/0/003.p/1",
      "/tile/1/000",
      "/tile/1/000.p/3",
      "/tile/2/000.p/1",
      "/tile/63/000.p/1",
      "/tile/0/x001/000",
    ]) {
      const res = await app.request(path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        /is not in the tree of the latest checkpoint \(size 600\)/,
      );
    }
    expect(await (await app.request("/tile/0/002")).text()).toMatch(
      /a tile still partial is served only as \.p\/<W>/,
    );
  });

  it.each([
    ["/tile/64/000", 'tile level must be 0 to 63 without leading zeros, got "64"'],
    ["/tile/00/000", 'tile level must be 0 to 63 without leading zeros, got "00"'],
    ["/tile/x/000", "tile level"],
    ["/tile/0", "no tile index after the level"],
    ["/tile/0/", "no tile index after the level"],
    ["/tile/0/0", 'tile index element "0" must be three digits'],
    ["/tile/0/x000/001", "has leading zeros (x000)"],
    ["/tile/0/000.p/0", 'partial tile width must be 1 to 255 without leading zeros, got "0"'],
    ["/tile/0/000.p/256", "partial tile width must be 1 to 255"],
    ["/tile/0/000.p/01", "partial tile width must be 1 to 255"],
    ["/tile/0/x999/x999/x999/x999/999", "tile index 999999999999999 is too large"],
    ["/tile/0/x001/x002/x003/x004/x005/006", "tile index has 6 path elements, at most 5"],
    ["/tile/0/000/extra", "must be x and three digits"],
    ["/tile/0/000.p/5/extra", "must be x and three digits"],
    ["/tile/0/000?x=1", "tile routes take no query parameters"],
    ["/tile/0/%30%30%30", 'tile index element "%30%30%30"'],
  ])("answers 400 for %s, naming what is wrong", async (path, message) => {
    const res = await app.request(path);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { status: number; message: string } };
    expect(body.error.status).toBe(400);
    expect(body.error.message).toContain(message);
  });

  it("keeps entry bundles behind the token: /tile/entries/… is not served", async () => {
    for (const path of ["/tile/entries/000", "/tile/entries/000.p/5"]) {
      const res = await app.request(path);
      expect(res.status).toBe(404);
      expect(await res.text()).toContain("entry bundles are not public");
    }
  });
});

describe("tiles within the checkpoint /checkpoint serves", () => {
  it("serves only what the witnessed checkpoint covers, nothing before one is witnessed", async () => {
    let witnessed: { size: number; note: string } | undefined;
    const routes = tileRoutes(tree, { latest: () => witnessed });
    expect((await routes.request("/tile/0/000.p/1")).status).toBe(404);
    witnessed = { size: 300, note: "" };
    expect((await routes.request("/tile/0/000")).status).toBe(200);
    expect((await routes.request("/tile/0/001.p/44")).status).toBe(200);
    expect((await routes.request("/tile/0/001.p/45")).status).toBe(404);
    expect((await routes.request("/tile/0/001")).status).toBe(404);
    expect((await routes.request("/tile/1/000.p/1")).status).toBe(200);
    expect((await tileRoutes(tree, undefined).request("/tile/0/000")).status).toBe(404);
  });
});
