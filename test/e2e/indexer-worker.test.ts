import { verify } from "node:crypto";
import { readdirSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LogIndex } from "../../broker/index.js";
import { treeHeadSignedBytes } from "../../core/log-format/index.js";
import { deadline, startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * The stack runs the exchange log's indexer in a worker thread: the main
 * thread (broker, review API) holds only a read-only connection to the index,
 * which must follow what the worker writes, and closing the stack must end
 * that thread.
 */
let stack: TestStack;
let closed = false;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  if (!closed) await stack?.close();
});

async function until<T>(what: string, f: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** This process's OS threads; a worker thread is one of them while it runs. */
const threads = () => readdirSync("/proc/self/task").length;

it("the main thread's read-only index sees each new exchange and a growing signed tree head", async () => {
  const index = stack.index;
  if (!index) throw new Error("the stack runs without the log");
  expect(index.db.readonly).toBe(true);
  expect(index).not.toBeInstanceOf(LogIndex);
  const client = stack.client();
  const subjectId = stack.population.citizens[0]?.id ?? "";
  const sizes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await client.fetch(
      { service: "dcrc.citizen-record", subjectId, purpose: "scholarship-eligibility" },
      deadline(),
    );
    const entry = await until("the exchange in the index", () => index.exchange(res.exchangeId));
    expect(entry.index).toBe(Number(res.receipt?.leafIndex));
    expect(entry.record?.service).toBe("dcrc.citizen-record");
    const head = await until("a tree head covering it", () => {
      const h = index.latestTreeHead();
      return h && h.treeSize > entry.index ? h : undefined;
    });
    expect(
      verify(null, treeHeadSignedBytes(head), stack.logPublicKey, Buffer.from(head.signature, "base64")),
    ).toBe(true);
    sizes.push(head.treeSize);
  }
  expect(sizes[2]).toBeGreaterThan(sizes[0] ?? 0);
  expect(index.treeSize).toBeGreaterThanOrEqual(sizes[2] ?? 0);
});

it("closing the stack stops the indexer and ends its thread", async () => {
  const index = stack.index;
  const before = threads();
  closed = true;
  await stack.close();
  expect(threads()).toBeLessThan(before);
  expect(index?.db.open).toBe(false);
});
