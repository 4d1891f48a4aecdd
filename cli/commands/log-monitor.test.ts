import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { checkpointSigner } from "../../broker/index.js";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { LOG_ID, writeTestLogIndex } from "../../test/helpers/log-index.js";
import { serveInSuite } from "../../test/helpers/serve-in-suite.js";
import { runXbusAsync } from "../../test/helpers/xbus-process.js";

// `xbus log monitor`, as a monitor runs it from cron, against the real review API over a real index of
// 600 leaves (tiles of levels 0 and 1, full and partial), with no token: a proxy in front records what
// is asked, can serve another checkpoint than the index's (an earlier one, or one an insider holding the
// log's key signed for a forked tree) and can alter one tile.

const COUNT = 600;
/** Not a power of two, and past a full tile: the consistency proof needs hashes from both levels. */
const EARLIER = 300;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
const app = log.reviewApp({ token: randomBytes(24).toString("base64url"), logSecret: randomBytes(32) });
const signer = checkpointSigner(LOG_ID, log.privateKey);
const rootAt = (size: number) => log.reader.tree.root(size).toString("hex");
const checkpointOf = (treeSize: number, rootHash = rootAt(treeSize)) =>
  signer.checkpointOf({ treeSize, rootHash });
const forkedRoot = randomBytes(32).toString("hex");

const staged = { checkpoint: undefined as string | undefined, tamper: "", asked: [] as string[] };
const proxy = new Hono().all("*", async (c) => {
  const path = new URL(c.req.url).pathname;
  staged.asked.push(`${path}${c.req.header("authorization") ? " (with a token)" : ""}`);
  if (path === "/checkpoint" && staged.checkpoint) return c.text(staged.checkpoint);
  const res = await app.fetch(c.req.raw);
  if (path !== staged.tamper) return res;
  const body = Buffer.from(await res.arrayBuffer());
  body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 1;
  return new Response(body, { status: res.status, headers: res.headers });
});
const server = serveInSuite(proxy, () => log.close());

const dir = mkdtempSync(join(tmpdir(), "xbus-tile-monitor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
let file = "";
beforeEach(() => {
  Object.assign(staged, { checkpoint: undefined, tamper: "", asked: [] });
  file = join(dir, `state-${++n}.json`);
});
const remember = (checkpoint: string) =>
  writeFileSync(
    file,
    `${JSON.stringify({ format: "xbus-log-checkpoint-state/1", verified_at: "2026-12-04T13:00:00.000Z", checkpoint })}\n`,
  );
const monitor = (...args: string[]) =>
  runXbusAsync(["log", "monitor", "--url", server.url, "--vkey", log.vkey, ...args], {
    XBUS_REVIEW_TOKEN: "",
  });
const stateSize = () =>
  (JSON.parse(readFileSync(file, "utf8")) as { checkpoint: string }).checkpoint.split("\n")[1];

describe("xbus log monitor: the log checked from its checkpoint and hash tiles alone", () => {
  it("recomputes the checkpoint's root from tiles, asking only public routes, with no token", async () => {
    const r = await monitor();
    expect(r.stdout).toMatch(
      new RegExp(
        `^ok: checkpoint of ${LOG_ID}, size ${COUNT}, root ${rootAt(COUNT)}; the root recomputed from \\d+ hash tile\\(s\\) matches\\n$`,
      ),
    );
    expect(r.status).toBe(0);
    expect(staged.asked[0]).toBe("/checkpoint");
    expect(staged.asked.slice(1).every((p) => /^\/tile\/[01]\/[0-9x/]+(\.p\/\d+)?$/.test(p))).toBe(true);
    expect(staged.asked).toContain("/tile/0/002.p/88");
  });

  it("a first --state run creates the state (0600); honest growth is then proved from tiles and advances it", async () => {
    staged.checkpoint = checkpointOf(EARLIER);
    const first = await monitor("--state", file);
    expect(first.stdout).toContain(
      `; ${file} created with the checkpoint of size ${EARLIER}: a first run, it proved nothing against history yet\n`,
    );
    expect(first.status).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(stateSize()).toBe(String(EARLIER));
    staged.checkpoint = undefined;
    const second = await monitor("--state", file);
    expect(second.stdout).toContain(
      `; it extends (consistency proof from tiles verified) the one last verified (size ${EARLIER}); ${file} now holds size ${COUNT}\n`,
    );
    expect(second.status).toBe(0);
    expect(stateSize()).toBe(String(COUNT));
    const same = await monitor("--state", file);
    expect([same.status, same.stdout]).toEqual([
      0,
      expect.stringContaining("; it is the same as the one last verified"),
    ]);
  });

  it("a fork is caught: the remembered checkpoint, signed by the log's key, is not in today's tree", async () => {
    const forked = checkpointOf(EARLIER, forkedRoot);
    remember(forked);
    const r = await monitor("--state", file);
    expect(r.stdout).toBe(
      `FAIL: the log was rewritten or forked: the consistency proof from size ${EARLIER} to ${COUNT}, built from the tiles, does not verify, so the checkpoint served now (root ${rootAt(COUNT)}) is not shown to extend the checkpoint last verified (state file ${file}) (root ${forkedRoot})\n` +
        `the state file ${file} is left as it was: size ${EARLIER}, root ${forkedRoot}\n`,
    );
    expect(r.status).toBe(1);
    expect(JSON.parse(readFileSync(file, "utf8")).checkpoint).toBe(forked);
  });

  it("a checkpoint smaller than the remembered one fails", async () => {
    remember(checkpointOf(COUNT));
    staged.checkpoint = checkpointOf(EARLIER);
    const r = await monitor("--state", file);
    expect(r.stdout).toMatch(
      /^FAIL: the log was rewritten or forked: the checkpoint served now is of size 300, smaller than/,
    );
    expect(r.status).toBe(1);
  });

  it("a tile with one bit changed, or a checkpoint of a tree the tiles are not, fails naming both roots", async () => {
    for (const path of ["/tile/0/002.p/88", "/tile/1/000.p/2"]) {
      staged.tamper = path;
      const r = await monitor();
      expect(r.stdout).toMatch(
        new RegExp(
          `^FAIL: the tiles of the tree of size ${COUNT} give the root [0-9a-f]{64}, the checkpoint says ${rootAt(COUNT)}: the log serves tiles of another tree than it signed\\n$`,
        ),
      );
      expect(r.status).toBe(1);
    }
    staged.tamper = "";
    staged.checkpoint = checkpointOf(COUNT, forkedRoot);
    expect((await monitor()).stdout).toContain(`the checkpoint says ${forkedRoot}`);
  });

  it("refuses a checkpoint of another key, a corrupt state before fetching, and a tile that is not there", async () => {
    const other = checkpointSigner(LOG_ID, generateKeyPairSync("ed25519").privateKey);
    staged.checkpoint = other.checkpointOf({ treeSize: COUNT, rootHash: rootAt(COUNT) });
    const r = await monitor();
    expect([r.status, r.stdout]).toEqual([1, "FAIL: the checkpoint carries no signature of the log's key\n"]);
    staged.checkpoint = undefined;
    writeFileSync(file, "{}\n");
    staged.asked = [];
    const corrupt = await monitor("--state", file);
    expect(corrupt.stderr).toContain(`the state file ${file} is corrupt`);
    expect(corrupt.status).not.toBe(0);
    expect(staged.asked).toEqual([]);
    // A checkpoint larger than the tree the server has: its tiles are 404.
    staged.checkpoint = signer.checkpointOf({ treeSize: COUNT + 100, rootHash: rootAt(COUNT) });
    const missing = await monitor();
    expect(missing.stdout).toMatch(/^FAIL: the root from tiles failed: \/tile\/0\/002\.p\/188: HTTP 404 /);
    expect(missing.status).toBe(1);
  });

  it("proves a leaf in the checkpoint's tree from tiles: its hash, not another; PENDING past the checkpoint", async () => {
    const hash = (i: number) => log.reader.tree.leafHash(i).toString("hex");
    const ok = await monitor("--leaf-index", "123", "--leaf-hash", hash(123));
    expect(ok.stdout).toMatch(/ matches; leaf 123 is in it \(inclusion proof from tiles verified\)\n$/);
    expect(ok.status).toBe(0);
    const other = await monitor("--leaf-index", "123", "--leaf-hash", hash(124));
    expect([other.status, other.stdout]).toEqual([
      1,
      `FAIL: leaf 123 with hash ${hash(124)} is not in the checkpoint's tree of size ${COUNT}: the inclusion proof built from the tiles does not verify\n`,
    ]);
    staged.checkpoint = checkpointOf(EARLIER);
    const pending = await monitor("--leaf-index", String(EARLIER), "--leaf-hash", hash(EARLIER));
    expect([pending.status, pending.stdout]).toEqual([
      2,
      `PENDING: leaf ${EARLIER} is not in the checkpoint of size ${EARLIER} yet; try again after the next checkpoint\n`,
    ]);
    staged.asked = [];
    const half = await monitor("--leaf-index", "5");
    expect(half.stderr).toContain("--leaf-index and --leaf-hash go together");
    expect(half.status).toBe(2);
    expect(staged.asked).toEqual([]);
  });
});
