import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Decision } from "../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../test/helpers/log-index.js";
import { compareHeads, type HeadPair, proofsFrom, proveGrowth } from "./consistency.js";
import type { ReviewClient } from "./review-client.js";

// The comparison of two signed heads, and what the verifier makes of every kind of answer to its
// request for a consistency proof. The proofs come from the indexer's Merkle store over a real index;
// the review API in front of it is replaced by `answering`, since what it answers is the point here.

const COUNT = 13;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
afterAll(() => log.close());

const pair = (earlier: number, later: number, laterRoot?: string): HeadPair => ({
  earlier: log.signedHead({ treeSize: earlier }),
  later: log.signedHead({ treeSize: later, ...(laterRoot && { rootHash: laterRoot }) }),
  earlierName: "head A",
  laterName: "head B",
});
const realProof = (first: number, second: number) => ({
  first,
  second,
  proof: log.reader.tree.consistencyProof(first, second).map((h) => h.toString("hex")),
});

/** A review API that answers every request with `answer(query)`, or fails as `answer` throws. */
function answering(answer: (query: Record<string, string | number | undefined>) => unknown) {
  const asked: string[] = [];
  const api: ReviewClient = {
    async get<T>(path: string, query: Record<string, string | number | undefined> = {}) {
      asked.push(`${path}?first=${query.first}&second=${query.second}`);
      return answer(query) as T;
    },
  };
  return { client: proofsFrom(api), asked };
}

describe("compareHeads", () => {
  it("same size, same root: the same tree, nothing to prove", () => {
    expect(compareHeads(pair(7, 7))).toEqual({ ok: true, how: "same" });
  });

  it("same size, another root: the log was rewritten or forked, naming both roots", () => {
    const p = pair(7, 7, "cd".repeat(32));
    expect(compareHeads(p)).toEqual({
      ok: false,
      problem: `the log was rewritten or forked: head A and head B are both of size 7 but their roots differ, ${p.earlier.root_hash} and ${"cd".repeat(32)}`,
    });
  });

  it("a smaller later head: the log was rewritten or forked, naming both sizes, whatever its root", () => {
    const problem = "the log was rewritten or forked: head B is of size 6, smaller than head A of size 7";
    expect(compareHeads(pair(7, 6))).toEqual({ ok: false, problem });
    expect(compareHeads(pair(7, 0))).toMatchObject({ ok: false, problem: expect.stringContaining("size 0") });
  });

  it("a larger head extends the empty tree without a proof; any other larger one needs one", () => {
    expect(compareHeads(pair(0, 5))).toEqual({ ok: true, how: "extends" });
    expect(compareHeads(pair(0, 0))).toEqual({ ok: true, how: "same" });
    expect(compareHeads(pair(5, 6))).toEqual({ ok: "unproved" });
  });
});

describe("proveGrowth", () => {
  it("asks for nothing when the sizes and roots already decide", async () => {
    for (const [a, b] of [
      [7, 7],
      [7, 6],
      [0, 9],
    ] as const) {
      const { client, asked } = answering(() => {
        throw new Error("not asked");
      });
      await proveGrowth(client, pair(a, b));
      expect(asked).toEqual([]);
    }
  });

  it("passes a larger head the log's own proof leads to, for every earlier size", async () => {
    for (let m = 1; m < COUNT; m++) {
      const { client, asked } = answering(() => realProof(m, COUNT));
      expect(await proveGrowth(client, pair(m, COUNT)), `${m} → ${COUNT}`).toEqual({
        ok: true,
        how: "extends",
      });
      expect(asked).toEqual([`/v1/log/proof/consistency?first=${m}&second=${COUNT}`]);
    }
  });

  it.each([
    ["one hash altered", () => tampered((p) => p.map((h, i) => (i === 0 ? "00".repeat(32) : h)))],
    ["one hash dropped", () => tampered((p) => p.slice(1))],
    ["one hash added", () => tampered((p) => [...p, "00".repeat(32)])],
    ["an empty proof", () => tampered(() => [])],
    ["the proof of another earlier size", () => ({ ...realProof(4, COUNT), first: 5 })],
  ])("fails a proof with %s: the log was rewritten or forked", async (_, answer) => {
    const { client } = answering(answer);
    expect(await proveGrowth(client, pair(5, COUNT))).toEqual({
      ok: false,
      problem: expect.stringMatching(
        /^the log was rewritten or forked: the consistency proof from size 5 to 13 does not verify, so head B \(root [0-9a-f]{64}\) is not shown to extend head A \(root [0-9a-f]{64}\)$/,
      ),
    });
  });

  it("fails a head whose root the earlier tree's proof does not lead to", async () => {
    const { client } = answering(() => realProof(5, COUNT));
    expect(await proveGrowth(client, pair(5, COUNT, "ef".repeat(32)))).toMatchObject({
      ok: false,
      problem: expect.stringContaining("does not verify"),
    });
  });

  it.each([
    ["answers other sizes", { ...realProof(5, COUNT), second: 12 }],
    ["answers no list", { first: 5, second: COUNT, proof: "abc" }],
    ["answers hashes that are not hex", { first: 5, second: COUNT, proof: ["zz".repeat(32)] }],
    [
      "answers upper-case hex",
      { ...realProof(5, COUNT), proof: realProof(5, COUNT).proof.map((h) => h.toUpperCase()) },
    ],
    ["answers null", null],
  ])("fails when the API %s: not a consistency proof", async (_, answer) => {
    const { client } = answering(() => answer);
    expect(await proveGrowth(client, pair(5, COUNT))).toEqual({
      ok: false,
      problem:
        "the consistency proof from size 5 to 13 is not one: the answer names other sizes, or hashes that are not 64 lowercase hex digits",
    });
  });

  it("fails when the proof cannot be fetched, saying why", async () => {
    const { client } = answering(() => {
      throw new Error(
        "/v1/log/proof/consistency: HTTP 400 second must be at most the log's size, 12, got 13",
      );
    });
    expect(await proveGrowth(client, pair(5, COUNT))).toEqual({
      ok: false,
      problem:
        "the consistency proof from size 5 to 13 could not be fetched: /v1/log/proof/consistency: HTTP 400 second must be at most the log's size, 12, got 13",
    });
  });
});

/** The log's own proof from 5 to COUNT, changed by `change`. */
function tampered(change: (proof: string[]) => string[]) {
  const p = realProof(5, COUNT);
  return { ...p, proof: change(p.proof) };
}
