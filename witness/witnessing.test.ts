import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkpointSigner, runWitnessing, type Witnessing, witnessing } from "../broker/index.js";
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
const makeWitness = (name: string) => {
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
    key,
    app: witnessApp(w, [LOG_ID]),
    vkey: cosignerVkey(`${name}.example`, rawEd25519(key.publicKey)),
  };
};
const ws = ["w1", "w2"].map(makeWitness);
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
  retryMs: 0,
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

describe("a slow or lying witness", () => {
  it("publishes once the quorum holds without waiting for a witness that hangs, and adds its line when it answers", async () => {
    const [w3, w4] = ["w3", "w4"].map(makeWitness) as [
      ReturnType<typeof makeWitness>,
      ReturnType<typeof makeWitness>,
    ];
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const either = parseWitnessPolicy(
      `witness W3 ${w3.vkey}\nwitness W4 ${w4.vkey}\ngroup one any W3 W4\nquorum one\n`,
    );
    const p = witnessing({
      index: log.reader,
      checkpointOf: signer.checkpointOf,
      witnesses: [w3, w4].map((w) => ({ name: w.name, url: `http://${w.name}` })),
      policy: either,
      logVkey: log.vkey,
      logger: createLogger({}, "error", () => {}),
      fetch: async (url, init) => {
        if (url.startsWith("http://w4/")) await held;
        return (url.startsWith("http://w3/") ? w3 : w4).app.request(url.slice(9), init);
      },
    });
    const round = p.round();
    // w3 answers at once; w4 hangs until released.
    for (let i = 0; i < 100 && p.latest() === undefined; i++) await new Promise((r) => setImmediate(r));
    const early = openCheckpoint(p.latest()?.note ?? "", { logVkey: log.vkey, policy: either });
    expect(early.ok && early.cosigned.map((c) => c.name)).toEqual(["W3"]);
    release();
    await round;
    const both = openCheckpoint(p.latest()?.note ?? "", { logVkey: log.vkey, policy: either });
    expect(both.ok && both.cosigned.map((c) => c.name).sort()).toEqual(["W3", "W4"]);
  });

  it("keeps a bad cosignature out (it would refuse the note), and counts the lag in seconds until witnessed", async () => {
    const [w5, w6] = ["w5", "w6"].map(makeWitness) as [
      ReturnType<typeof makeWitness>,
      ReturnType<typeof makeWitness>,
    ];
    const either = parseWitnessPolicy(
      `witness W5 ${w5.vkey}\nwitness W6 ${w6.vkey}\ngroup one any W5 W6\nquorum one\n`,
    );
    let t = 1_000_000;
    let w5Down = true;
    const p = witnessing({
      index: log.reader,
      checkpointOf: signer.checkpointOf,
      witnesses: [w5, w6].map((w) => ({ name: w.name, url: `http://${w.name}` })),
      policy: either,
      logVkey: log.vkey,
      logger: createLogger({}, "error", () => {}),
      now: () => t,
      retryMs: 1000,
      fetch: async (url, init) => {
        if (url.startsWith("http://w6/")) {
          // w6 cosigns, but answers with its line's signature bytes changed.
          const res = await w6.app.request(url.slice(9), init);
          const line = await res.text();
          const cut = line.length - 6;
          return new Response(line.slice(0, cut) + (line[cut] === "A" ? "B" : "A") + line.slice(cut + 1));
        }
        if (w5Down) throw new Error("connection refused");
        return w5.app.request(url.slice(9), init);
      },
    });
    await p.round();
    expect(p.latest()).toBeUndefined();
    t += 2500;
    expect([p.lag(), p.lagSeconds()]).toEqual([COUNT, 2.5]);
    w5Down = false;
    await p.round();
    const opened = openCheckpoint(p.latest()?.note ?? "", { logVkey: log.vkey, policy: either });
    expect(opened.ok && opened.cosigned.map((c) => c.name)).toEqual(["W5"]);
    expect([p.lag(), p.lagSeconds()]).toEqual([0, 0]);
  });
});

describe("the lag alert", () => {
  it("warns once while witnessing lags past the threshold (at most every 10 minutes), and again after it recovered", async () => {
    const lines: string[] = [];
    let seconds = 0;
    let t = 0;
    const fake: Witnessing = {
      latest: () => undefined,
      lag: () => 3,
      lagSeconds: () => seconds,
      round: async () => {},
    };
    const logger = createLogger({}, "warn", (l) => void lines.push(l));
    const loop = runWitnessing(fake, { everyMs: 3_600_000, alertSeconds: 30, logger, now: () => t });
    const at = async (s: number, dt = 1000) => {
      seconds = s;
      t += dt;
      await loop.tick();
      return lines.length;
    };
    expect(await at(10)).toBe(0);
    expect(await at(31)).toBe(1);
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
      msg: expect.stringMatching(/^witnessing lags/),
      lag_seconds: 31,
      lag_entries: 3,
      threshold_seconds: 30,
    });
    expect(await at(90)).toBe(1);
    expect(await at(700, 600_000)).toBe(2);
    expect(await at(0)).toBe(2);
    expect(await at(40)).toBe(3);
    await loop.stop();
  });
});
