import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkpointSigner, witnessing } from "../broker/index.js";
import { createLogger } from "../core/index.js";
import { cosignerVkey } from "../core/log-format/index.js";
import { rawEd25519 } from "../core/signing/index.js";
import { Decision } from "../proto/gen/xbus/v1/log_pb.js";
import { LOG_ID, writeTestLogIndex } from "../test/helpers/log-index.js";
import { openCheckpoint, parseWitnessPolicy } from "../verifier/index.js";
import { witnessApp } from "./http.js";
import { createWitness } from "./witness.js";

// The log pushing its checkpoints to two real witnesses (their HTTP apps, called in process): the
// witnessed checkpoint meets a 2-of-2 policy, a witness that is ahead (409) is caught up by itself, a
// witness that is down only delays witnessing, and a forked checkpoint is refused by both witnesses and
// by a client that holds the policy.

const COUNT = 9;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
const dir = mkdtempSync(join(tmpdir(), "xbus-witnessing-"));
afterAll(() => {
  log.close();
  rmSync(dir, { recursive: true, force: true });
});
const signer = checkpointSigner(LOG_ID, log.privateKey);
const ws = ["w1", "w2"].map((name) => {
  const key = generateKeyPairSync("ed25519");
  const w = createWitness({
    name: `${name}.example`,
    key: key.privateKey,
    logs: new Map([[LOG_ID, log.vkey]]),
    statePath: join(dir, `${name}.json`),
  });
  return {
    name,
    w,
    app: witnessApp(w, [LOG_ID]),
    vkey: cosignerVkey(`${name}.example`, rawEd25519(key.publicKey)),
  };
});
const policy = parseWitnessPolicy(
  `log ${log.vkey}\nwitness W1 ${ws[0]?.vkey}\nwitness W2 ${ws[1]?.vkey}\ngroup both all W1 W2\nquorum both\n`,
);
let down = false;
const pusher = witnessing({
  index: log.reader,
  checkpointOf: signer.checkpointOf,
  witnesses: ws.map((w) => ({ name: w.name, url: `http://${w.name}` })),
  policy,
  logVkey: log.vkey,
  logger: createLogger({}, "error", () => {}),
  fetch: async (url, init) => {
    const w = ws.find((x) => url.startsWith(`http://${x.name}/`));
    if (!w || (down && w.name === "w2")) throw new Error("connection refused");
    return w.app.request(url.slice(`http://${w.name}`.length), init);
  },
});

describe("witnessing", () => {
  it("a witness down delays the witnessed checkpoint; the log's own stays served elsewhere", async () => {
    down = true;
    await pusher.round();
    expect(pusher.latest()).toBeUndefined();
    expect(pusher.lag()).toBe(COUNT);
  });

  it("catches a witness up from its 409 and publishes the checkpoint once both cosigned", async () => {
    down = false;
    // w1 cosigned size 9 in the round above: the pusher still thinks it is at 0 only if it never saw it;
    // w2 is brought ahead of the pusher's view by another submitter (old 0 → 4), so it answers 409 "4".
    const at4 = signer.checkpointOf({ treeSize: 4, rootHash: log.reader.tree.root(4).toString("hex") });
    expect(ws[1]?.w.addCheckpoint(`old 0\n\n${at4}`).status).toBe(200);
    await pusher.round();
    const witnessed = pusher.latest();
    expect(witnessed?.size).toBe(COUNT);
    const opened = openCheckpoint(witnessed?.note ?? "", { logVkey: log.vkey, policy });
    expect(opened.ok && opened.cosigned.map((c) => c.name)).toEqual(["W1", "W2"]);
    expect(pusher.lag()).toBe(0);
  });

  it("a fork (same size, another root, signed by the log's key) is refused by both witnesses and by the policy", () => {
    const fork = signer.checkpointOf({ treeSize: COUNT, rootHash: "ee".repeat(32) });
    for (const { w } of ws) expect(w.addCheckpoint(`old ${COUNT}\n\n${fork}`).status).toBe(422);
    expect(openCheckpoint(fork, { logVkey: log.vkey, policy })).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/no trusted witness/),
    });
  });
});
