import { randomBytes, randomUUID } from "node:crypto";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { LOG_ID, rogueSigner, writeTestLogIndex } from "../../test/helpers/log-index.js";
import { serveInSuite } from "../../test/helpers/serve-in-suite.js";
import { runXbusAsync } from "../../test/helpers/xbus-process.js";
import type { TreeHeadJson } from "../../verifier/index.js";

// `xbus log verify` live, as a reviewer runs it, against a real index served by the real review API,
// behind a proxy that each test steers: which tree head it serves for the export and which when the CLI
// fetches the head again, and whether it alters the consistency proof. Honest growth must pass; a log
// rewritten or forked between the two reads, however it shows, must fail with exit 1 and say what failed.

const TOKEN = randomBytes(24).toString("base64url");
const COUNT = 37;
/** A size below COUNT and not a power of two, so the proof carries more than one hash on each side. */
const EARLIER = 21;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
const app = log.reviewApp({ token: TOKEN, logSecret: randomBytes(32) });
const LOG_KEY = log.keyBase64;
const rogue = rogueSigner();
const ROGUE_KEY = rogue.keyBase64;
const rootAt = (size: number) => log.reader.tree.root(size).toString("hex");
/** `hex` with its last bit flipped. */
const flip = (hex: string) => hex.slice(0, -1) + (hex.endsWith("0") ? "1" : "0");

const staged = {
  /** The head served for the export (the first GET /v1/log/tree-head); the real one when undefined. */
  exported: undefined as TreeHeadJson | undefined,
  /** The head served after it; the real one when undefined. */
  later: undefined as TreeHeadJson | undefined,
  tamperProof: false,
  headsServed: 0,
  asked: [] as string[],
};
const proxy = new Hono();
proxy.get("/v1/log/tree-head", async (c) => {
  const head = staged.headsServed++ === 0 ? staged.exported : staged.later;
  return head ? c.json(head) : app.fetch(c.req.raw);
});
proxy.get("/v1/log/proof/consistency", async (c) => {
  const url = new URL(c.req.url);
  staged.asked.push(url.pathname + url.search);
  const res = await app.fetch(c.req.raw);
  if (res.status !== 200 || !staged.tamperProof) return res;
  const body = (await res.json()) as { proof: string[] };
  body.proof = body.proof.map((h, i) => (i === body.proof.length - 1 ? flip(h) : h));
  return c.json(body);
});
proxy.all("*", (c) => app.fetch(c.req.raw));

const server = serveInSuite(proxy, () => log.close());
beforeEach(() => {
  Object.assign(staged, {
    exported: undefined,
    later: undefined,
    tamperProof: false,
    headsServed: 0,
    asked: [],
  });
});

// Asynchronous: the review API answering the CLI runs in this very process.
const verify = (...args: string[]) =>
  runXbusAsync(["log", "verify", "--url", server.url, ...args], { XBUS_REVIEW_TOKEN: TOKEN });

async function fails(args: string[], problem: string | RegExp): Promise<void> {
  const r = await verify(...args);
  expect(r.stderr).toBe("");
  expect(r.stdout).toMatch(/^FAIL: /);
  if (typeof problem === "string") expect(r.stdout).toContain(problem);
  else expect(r.stdout).toMatch(problem);
  expect(r.status).toBe(1);
}

describe("xbus log verify, live: honest logs pass", () => {
  it("a log that did not change: the head fetched again is the same", async () => {
    const r = await verify();
    expect(r.stdout).toBe(
      `ok: ${COUNT} entries, 1 signed tree head(s), root ${rootAt(COUNT)}; ` +
        "the tree head fetched after the export is the same\n",
    );
    expect(r.status).toBe(0);
    expect(staged.headsServed).toBe(2);
    expect(staged.asked).toEqual([]);
  });

  it("a log that grew meanwhile: the consistency proof between the two sizes is fetched and verified", async () => {
    staged.exported = log.signedHead({ treeSize: EARLIER });
    const r = await verify("--public-key", LOG_KEY, "--log-id", LOG_ID);
    expect(r.stdout).toBe(
      `ok: ${EARLIER} entries, 1 signed tree head(s), root ${rootAt(EARLIER)}; ` +
        `the tree head fetched after the export (size ${COUNT}, root ${rootAt(COUNT)}) extends it ` +
        "(consistency proof verified)\n",
    );
    expect(r.status).toBe(0);
    expect(staged.asked).toEqual([`/v1/log/proof/consistency?first=${EARLIER}&second=${COUNT}`]);
  });

  it("a log that was empty at the export: every tree extends the empty one, no proof to ask for", async () => {
    staged.exported = log.signedHead({ treeSize: 0 });
    const r = await verify();
    expect(r.stdout).toMatch(/^ok: 0 entries, .*extends it \(the exported tree was empty\)\n$/);
    expect(r.status).toBe(0);
    expect(staged.asked).toEqual([]);
  });
});

describe("xbus log verify, live: a log rewritten or forked between the two reads fails", () => {
  it("a smaller head, signed with the log's own key: names both sizes", async () => {
    staged.later = log.signedHead({ treeSize: COUNT - 1 });
    await fails(
      [],
      `the log was rewritten or forked: the tree head fetched after the export is of size ${COUNT - 1}, ` +
        `smaller than the export's tree head of size ${COUNT}`,
    );
    expect(staged.asked).toEqual([]);
  });

  it("a head of the same size with another root, signed with the log's own key: names both roots", async () => {
    const forked = "ab".repeat(32);
    staged.later = log.signedHead({ rootHash: forked });
    await fails(
      ["--public-key", LOG_KEY],
      `the log was rewritten or forked: the export's tree head and the tree head fetched after the export ` +
        `are both of size ${COUNT} but their roots differ, ${rootAt(COUNT)} and ${forked}`,
    );
  });

  it("a consistency proof with one hash altered", async () => {
    staged.exported = log.signedHead({ treeSize: EARLIER });
    staged.tamperProof = true;
    await fails(
      [],
      `the log was rewritten or forked: the consistency proof from size ${EARLIER} to ${COUNT} does not verify`,
    );
  });

  it("a larger head over a root the earlier tree does not lead to, signed with the log's own key", async () => {
    staged.exported = log.signedHead({ treeSize: EARLIER });
    staged.later = log.signedHead({ treeSize: COUNT, rootHash: flip(rootAt(COUNT)) });
    await fails(
      [],
      `the consistency proof from size ${EARLIER} to ${COUNT} does not verify, so the tree head fetched ` +
        `after the export (root ${flip(rootAt(COUNT))}) is not shown to extend the export's tree head`,
    );
  });

  it("a head signed by another key, naming the log's", async () => {
    staged.later = log.signedHead({ signer: rogue.privateKey });
    await fails(
      [],
      `the tree head fetched after the export (size ${COUNT}): the signature does not verify with the key of the export's tree head`,
    );
  });

  it("a head signed by another key and naming it: the key must not change between the two reads", async () => {
    staged.later = log.signedHead({ signer: rogue.privateKey, publicKey: ROGUE_KEY });
    await fails(
      [],
      `the tree head fetched after the export names public key ${ROGUE_KEY}, but the key of the export's tree head is ${LOG_KEY}`,
    );
  });

  it("a head of another log ID, signed with the log's own key", async () => {
    staged.later = log.signedHead({ logId: "another-log" });
    await fails(
      [],
      `the tree head fetched after the export is of log "another-log", but the log ID of the export's tree head is "${LOG_ID}"`,
    );
  });
});

describe("xbus log verify, live: what the reviewer pinned", () => {
  it("a server that signs with a key of its own fails against the pinned key from its first head", async () => {
    staged.exported = log.signedHead({ signer: rogue.privateKey, publicKey: ROGUE_KEY });
    await fails(
      ["--public-key", LOG_KEY],
      `the export's tree head names public key ${ROGUE_KEY}, but the pinned key is ${LOG_KEY}`,
    );
  });

  it("a log of another ID than --log-id fails", async () => {
    await fails(
      ["--log-id", "the-real-log"],
      `the export's tree head is of log "${LOG_ID}", but the log ID given (--log-id) is "the-real-log"`,
    );
  });

  it("a --public-key that is not a raw 32-byte key is refused before anything is fetched", async () => {
    const r = await verify("--public-key", "not-a-key");
    expect(r.stderr).toMatch(/^xbus log: --public-key must be base64 of the log's raw 32-byte Ed25519 key/);
    expect(r.status).toBe(2);
    expect(staged.headsServed).toBe(0);
  });
});

// A monitor run from cron: --state keeps the head each run verified, and the next run must be shown a log
// that extends it. Each rewrite below is what the monitor would see if the log it verified yesterday was
// replaced by another: the state holds yesterday's head (signed by the log's own key unless said), the API
// serves today's real log.
describe("xbus log verify --state: a monitor remembers the head it verified, across runs", () => {
  const dir = mkdtempSync(join(tmpdir(), "xbus-monitor-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  let file = "";
  beforeEach(() => {
    file = join(dir, `state-${++n}.json`);
  });
  const stateHead = () => (JSON.parse(readFileSync(file, "utf8")) as { head: TreeHeadJson }).head;
  const remember = (head: TreeHeadJson) =>
    writeFileSync(
      file,
      `${JSON.stringify({ format: "xbus-log-monitor-state/1", verified_at: "2026-11-26T13:00:00.000Z", head })}\n`,
    );
  const LAST = `the tree head last verified (state file `;

  it("a first run creates the state, mode 0600, and says it proved nothing against history yet", async () => {
    const r = await verify("--state", file);
    expect(r.stdout).toBe(
      `ok: ${COUNT} entries, 1 signed tree head(s), root ${rootAt(COUNT)}; ` +
        `the tree head fetched after the export is the same; ${file} created with the head of size ${COUNT}: ` +
        "a first run, it proved nothing against history yet\n",
    );
    expect(r.status).toBe(0);
    expect(stateHead()).toMatchObject({
      log_id: LOG_ID,
      tree_size: COUNT,
      root_hash: rootAt(COUNT),
      public_key: LOG_KEY,
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("honest growth between runs passes, proved by a consistency proof, and advances the state", async () => {
    staged.exported = staged.later = log.signedHead({ treeSize: EARLIER });
    expect((await verify("--state", file)).status).toBe(0);
    expect(stateHead().tree_size).toBe(EARLIER);
    staged.exported = staged.later = undefined;
    staged.headsServed = 0;
    const r = await verify("--state", file);
    expect(r.stdout).toContain(
      `; the export's tree head extends the one last verified (size ${EARLIER}, root ${rootAt(EARLIER)}); ${file} now holds size ${COUNT}\n`,
    );
    expect(r.status).toBe(0);
    expect(staged.asked).toEqual([`/v1/log/proof/consistency?first=${EARLIER}&second=${COUNT}`]);
    expect(stateHead()).toMatchObject({ tree_size: COUNT, root_hash: rootAt(COUNT) });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("a log that did not change between runs passes and keeps its size in the state", async () => {
    remember(log.signedHead({ timestamp: 1 }));
    const r = await verify("--state", file);
    expect(r.stdout).toContain(
      `; the export's tree head is the same as the one last verified (size ${COUNT},`,
    );
    expect(r.status).toBe(0);
    expect(stateHead().timestamp).toBeGreaterThan(1);
  });

  /** A run against the state `head` must FAIL naming `problem`, and leave the state file byte for byte. */
  async function rewritten(head: TreeHeadJson, problem: string, args: string[] = []): Promise<void> {
    remember(head);
    const before = readFileSync(file);
    const r = await verify("--state", file, ...args);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      `FAIL: ${problem}\nthe state file ${file} is left as it was: size ${head.tree_size}, root ${head.root_hash}\n`,
    );
    expect(r.status).toBe(1);
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  }

  it("a log rewritten at the same size: yesterday's root is not today's", async () => {
    const yesterday = "cd".repeat(32);
    await rewritten(
      log.signedHead({ rootHash: yesterday }),
      `the log was rewritten or forked: ${LAST}${file}) and the export's tree head are both of size ${COUNT} ` +
        `but their roots differ, ${yesterday} and ${rootAt(COUNT)}`,
    );
  });

  it("a log that shrank: today's head is smaller than yesterday's", async () => {
    await rewritten(
      log.signedHead({ treeSize: COUNT + 5, rootHash: "ef".repeat(32) }),
      `the log was rewritten or forked: the export's tree head is of size ${COUNT}, smaller than ${LAST}${file}) of size ${COUNT + 5}`,
    );
  });

  it("a larger head that does not extend yesterday's: the consistency proof fails", async () => {
    const yesterday = flip(rootAt(EARLIER));
    await rewritten(
      log.signedHead({ treeSize: EARLIER, rootHash: yesterday }),
      `the log was rewritten or forked: the consistency proof from size ${EARLIER} to ${COUNT} does not verify, ` +
        `so the export's tree head (root ${rootAt(COUNT)}) is not shown to extend ${LAST}${file}) (root ${yesterday})`,
    );
    expect(staged.asked).toEqual([`/v1/log/proof/consistency?first=${EARLIER}&second=${COUNT}`]);
  });

  it("a consistency proof from yesterday's head with one hash altered", async () => {
    staged.tamperProof = true;
    await rewritten(
      log.signedHead({ treeSize: EARLIER }),
      `the log was rewritten or forked: the consistency proof from size ${EARLIER} to ${COUNT} does not verify, ` +
        `so the export's tree head (root ${rootAt(COUNT)}) is not shown to extend ${LAST}${file}) (root ${rootAt(EARLIER)})`,
    );
  });

  it("a log now signed by another key than yesterday's", async () => {
    await rewritten(
      log.signedHead({ signer: rogue.privateKey, publicKey: ROGUE_KEY }),
      `the export's tree head names public key ${LOG_KEY}, but the key of ${LAST}${file}) is ${ROGUE_KEY}`,
    );
  });

  it("a log of another log ID than yesterday's", async () => {
    await rewritten(
      log.signedHead({ logId: "yesterdays-log" }),
      `the export's tree head is of log "${LOG_ID}", but the log ID of ${LAST}${file}) is "yesterdays-log"`,
    );
  });

  it("a state under another key than the pinned one fails before anything is fetched", async () => {
    await rewritten(
      log.signedHead({ signer: rogue.privateKey, publicKey: ROGUE_KEY }),
      `${LAST}${file}) names public key ${ROGUE_KEY}, but the pinned key is ${LOG_KEY}`,
      ["--public-key", LOG_KEY],
    );
    expect(staged.headsServed).toBe(0);
  });

  it.each([
    ["not JSON", "{ not json", "not JSON"],
    ["empty", "", "not JSON"],
    ["another format", JSON.stringify({ head: log.signedHead() }), "not an object of format"],
    [
      "a head whose signature does not verify",
      JSON.stringify({
        format: "xbus-log-monitor-state/1",
        head: { ...log.signedHead(), root_hash: "00".repeat(32) },
      }),
      "its head (size 37): the signature does not verify",
    ],
  ])("a corrupt state file (%s) is refused naming it, never reset", async (_, text, why) => {
    writeFileSync(file, text);
    const r = await verify("--state", file);
    expect(r.stderr).toContain(`xbus log: the state file ${file} is corrupt (`);
    expect(r.stderr).toContain(why);
    expect(r.status).toBe(1);
    expect(readFileSync(file, "utf8")).toBe(text);
    expect(staged.headsServed).toBe(0);
  });

  it("a state file that is a symbolic link is refused, and neither it nor its target is touched", async () => {
    const target = join(dir, `target-${n}.json`);
    remember(log.signedHead());
    const text = readFileSync(file, "utf8");
    rmSync(file);
    writeFileSync(target, text);
    symlinkSync(target, file);
    const r = await verify("--state", file);
    expect(r.stderr).toMatch(new RegExp(`^xbus log: the state file ${file} is a symbolic link: refused`));
    expect(r.status).toBe(1);
    expect(readFileSync(target, "utf8")).toBe(text);
    expect(staged.headsServed).toBe(0);
  });

  it("a state file in a folder that does not exist is refused before anything is fetched", async () => {
    const r = await verify("--state", join(dir, "no-such-folder", "state.json"));
    expect(r.stderr).toContain(
      `xbus log: the state file's folder ${join(dir, "no-such-folder")} does not exist`,
    );
    expect(r.status).toBe(1);
    expect(staged.headsServed).toBe(0);
  });

  it("--vkey and --policy without --state are refused: the checkpoint is checked against a monitor's memory", async () => {
    const r = await verify("--policy", join(dir, "policy.txt"));
    expect(r.stderr).toMatch(/^xbus log: --vkey and --policy go with --state/);
    expect(r.status).toBe(2);
    expect(staged.headsServed).toBe(0);
  });

  it("--state with --file is refused: an export is a copy of one time, not a live log", async () => {
    const r = await verify("--state", file, "--file", join(dir, "export.jsonl"));
    expect(r.stderr).toMatch(/^xbus log: --state is for live monitoring \(without --file\)/);
    expect(r.status).toBe(2);
  });
});
