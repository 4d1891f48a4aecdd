import { randomBytes, randomUUID } from "node:crypto";
import { Hono } from "hono";
import { beforeEach, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { LOG_ID, rogueSigner, writeTestLogIndex } from "../../test/helpers/log-index.js";
import { serveInSuite } from "../../test/helpers/serve-in-suite.js";
import { runXbusAsync } from "../../test/helpers/xbus-process.js";
import type { TreeHeadJson } from "../log/review-client.js";

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
    expect(r.stderr).toMatch(/^xbus: --public-key must be base64 of the log's raw 32-byte Ed25519 key/);
    expect(r.status).toBe(1);
    expect(staged.headsServed).toBe(0);
  });
});
