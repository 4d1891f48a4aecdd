import { createHash, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkpointSigner } from "../broker/index.js";
import { cosignerVkey } from "../core/log-format/index.js";
import { rawEd25519 } from "../core/signing/index.js";
import { Decision } from "../proto/gen/xbus/v1/log_pb.js";
import { LOG_ID, writeTestLogIndex } from "../test/helpers/log-index.js";
import { openCheckpoint, parseWitnessPolicy } from "../verifier/index.js";
import { witnessApp } from "./http.js";
import { createWitness } from "./witness.js";

// The witness by the table of c2sp.org/tlog-witness, over checkpoints and consistency proofs of a real
// index: 200 with a cosignature that verifies, 409 with the size, 422 bad proof or fork, 404, 403, 400;
// and a restarted witness keeps its state.

const COUNT = 20;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
const dir = mkdtempSync(join(tmpdir(), "xbus-witness-"));
afterAll(() => {
  log.close();
  rmSync(dir, { recursive: true, force: true });
});
const signer = checkpointSigner(LOG_ID, log.privateKey);
const cp = (size: number, root = log.reader.tree.root(size).toString("hex")) =>
  signer.checkpointOf({ treeSize: size, rootHash: root });
const proof = (a: number, b: number) =>
  a === 0 || a === b ? [] : log.reader.tree.consistencyProof(a, b).map((h) => h.toString("base64"));
const request = (old: number, size: number, note = cp(size), lines = proof(old, size)) =>
  [`old ${old}`, ...lines, "", note].join("\n");
const wkey = generateKeyPairSync("ed25519");
const statePath = join(dir, "state.json");
const open = () =>
  createWitness({
    name: "w1.example",
    key: wkey.privateKey,
    logs: new Map([[LOG_ID, log.vkey]]),
    statePath,
    now: () => 1_800_000_000,
  });
const policy = parseWitnessPolicy(
  `witness W1 ${cosignerVkey("w1.example", rawEd25519(wkey.publicKey))}\nquorum W1\n`,
);

describe("add-checkpoint", () => {
  const w = open();

  it("cosigns a first checkpoint (old 0) and one that extends it; the cosignature verifies with its time", () => {
    const first = w.addCheckpoint(request(0, 5));
    expect(first.status).toBe(200);
    const second = w.addCheckpoint(request(5, 12));
    expect(second.status).toBe(200);
    const opened = openCheckpoint(cp(12) + second.body, { logVkey: log.vkey, policy });
    expect(opened).toMatchObject({ ok: true, cosigned: [{ name: "W1", time: 1_800_000_000 }] });
    expect(w.latest(LOG_ID)).toBe(cp(12) + second.body);
  });

  it("409 with the latest size when the old size is not it", () => {
    expect(w.addCheckpoint(request(5, 15))).toEqual({
      status: 409,
      body: "12\n",
      contentType: "text/x.tlog.size",
    });
    expect(w.addCheckpoint(request(0, 15))).toMatchObject({ status: 409, body: "12\n" });
  });

  it("422 for a proof that does not verify, and for a fork: the same size with another root", () => {
    const wrong = proof(12, 15).map(() => Buffer.alloc(32, 1).toString("base64"));
    expect(w.addCheckpoint(request(12, 15, cp(15), wrong)).status).toBe(422);
    const fork = cp(12, "ab".repeat(32));
    expect(w.addCheckpoint(request(12, 12, fork, []))).toMatchObject({
      status: 422,
      body: "the same size with another root\n",
    });
    // A fork that grows: a checkpoint of size 15 whose root no proof from 12 reaches.
    expect(w.addCheckpoint(request(12, 15, cp(15, "cd".repeat(32)))).status).toBe(422);
  });

  it("404 for an unknown origin, 403 for a forged signature, 400 for a malformed body", () => {
    const other = checkpointSigner("gov.bt/another-log", log.privateKey).checkpointOf({
      treeSize: 13,
      rootHash: log.reader.tree.root(13).toString("hex"),
    });
    expect(w.addCheckpoint(request(12, 13, other)).status).toBe(404);
    const rogue = checkpointSigner(LOG_ID, generateKeyPairSync("ed25519").privateKey);
    const forged = rogue.checkpointOf({ treeSize: 13, rootHash: log.reader.tree.root(13).toString("hex") });
    expect(w.addCheckpoint(request(12, 13, forged)).status).toBe(403);
    expect(w.addCheckpoint(`old 12\n${cp(13)}`).status).toBe(400);
    expect(w.addCheckpoint(request(14, 13, cp(13), [])).status).toBe(400);
  });

  it("a restarted witness keeps its state: it still refuses the fork and extends from 12", () => {
    const again = open();
    expect(again.addCheckpoint(request(0, 12))).toMatchObject({ status: 409, body: "12\n" });
    expect(again.addCheckpoint(request(12, 12, cp(12, "ab".repeat(32)), [])).status).toBe(422);
    expect(again.addCheckpoint(request(12, COUNT)).status).toBe(200);
  });
});

describe("the HTTP interface", () => {
  it("answers add-checkpoint by status and serves the latest cosigned checkpoint by origin hash", async () => {
    const app = witnessApp(open(), [LOG_ID]);
    const conflict = await app.request("/add-checkpoint", { method: "POST", body: request(0, 3) });
    expect([conflict.status, conflict.headers.get("content-type"), await conflict.text()]).toEqual([
      409,
      "text/x.tlog.size",
      `${COUNT}\n`,
    ]);
    const hash = createHash("sha256").update(LOG_ID).digest("hex");
    const latest = await (await app.request(`/${hash}/checkpoint`)).text();
    expect(openCheckpoint(latest, { logVkey: log.vkey, policy })).toMatchObject({ ok: true });
    expect((await app.request(`/${"0".repeat(64)}/checkpoint`)).status).toBe(404);
  });
});
