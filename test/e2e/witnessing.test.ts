import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openCheckpoint, parseWitnessPolicy, type WitnessPolicy } from "../../verifier/index.js";
import { fetchSample, startTestStack, type TestStack } from "../helpers/stack.js";

// The log service on a real stack with two witnesses (`xbus dev`'s wiring): GET /checkpoint serves the
// checkpoint both cosigned, GET /checkpoint/signed the log's own; with a witness down, exchanges and
// signing go on, the witnessed checkpoint stays where it was, the lag shows in /metrics and a warning
// is logged past the threshold.

let stack: TestStack;
let policy: WitnessPolicy;
const lines: string[] = [];
beforeAll(async () => {
  stack = await startTestStack({
    witnesses: 2,
    witnessing: { alertSeconds: 1 },
    onLog: (l) => void lines.push(l),
  });
  policy = parseWitnessPolicy(readFileSync(stack.witnessPolicyPath ?? "", "utf8"));
}, 120_000);
afterAll(() => stack?.close());

const exchange = async () => {
  const res = await fetchSample(stack);
  expect(res.receipt).toBeDefined();
  return Number(res.receipt?.leafIndex);
};
const get = async (path: string) => {
  const res = await fetch(`${stack.review?.url}${path}`);
  return { status: res.status, text: await res.text() };
};
/** Polls until `ok` holds of what `read` gives; fails naming `what` after 30 s. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${what} after 30 s`);
}
/** The stack's /metrics, on its own port (stack.metricsUrl is the whole URL). */
const metricsText = async () => (await fetch(stack.metricsUrl)).text();
const sizeOf = (note: string) => Number(note.split("\n")[1]);

describe("witnessing on the stack", () => {
  it("serves the checkpoint both witnesses cosigned at /checkpoint and the log's own at /checkpoint/signed", async () => {
    const leaf = await exchange();
    const witnessed = await until(
      () => get("/checkpoint"),
      (r) => r.status === 200 && sizeOf(r.text) > leaf,
      "witnessed checkpoint covering the exchange",
    );
    const opened = openCheckpoint(witnessed.text, { logVkey: stack.logVkey, policy });
    expect(opened.ok && opened.cosigned.map((c) => c.name).sort()).toEqual(["W1", "W2"]);
    const signed = await get("/checkpoint/signed");
    expect(openCheckpoint(signed.text, { logVkey: stack.logVkey })).toMatchObject({ ok: true });
    expect(openCheckpoint(signed.text, { logVkey: stack.logVkey, policy })).toMatchObject({ ok: false });
    const metrics = await metricsText();
    expect(metrics).toMatch(/^xbus_witness_lag_entries(\{[^}]*\})? \d+/m);
    expect(metrics).toMatch(/^xbus_witness_lag_seconds(\{[^}]*\})? [\d.e+-]+/m);
  });

  it("with a witness down, exchanges and signing go on; the witnessed checkpoint waits, the lag shows and is warned about", async () => {
    const before = sizeOf((await get("/checkpoint")).text);
    await stack.stopWitness("W2");
    const leaf = await exchange();
    expect(leaf).toBeGreaterThanOrEqual(before);
    const signed = await until(
      () => get("/checkpoint/signed"),
      (r) => sizeOf(r.text) > leaf,
      "signed checkpoint covering the exchange",
    );
    // W1 is up and cosigns the new size; the policy needs W2 too.
    const w1 = stack.witnesses.find((w) => w.name === "W1");
    const hash = createHash("sha256").update(stack.logFiles.log_id).digest("hex");
    const byW1 = await until(
      async () => (await fetch(`${w1?.url}/${hash}/checkpoint`)).text(),
      (t) => sizeOf(t) === sizeOf(signed.text),
      "W1's cosignature of the new size",
    );
    const warned = await until(
      async () => lines.filter((l) => JSON.parse(l).msg?.startsWith("witnessing lags")),
      (w) => w.length > 0,
      "lag warning",
    );
    expect(JSON.parse(warned[0] ?? "{}")).toMatchObject({ lag_entries: sizeOf(signed.text) - before });
    const witnessed = await get("/checkpoint");
    expect(sizeOf(witnessed.text)).toBe(before);
    expect(openCheckpoint(witnessed.text, { logVkey: stack.logVkey, policy })).toMatchObject({ ok: true });
    const lag = /^xbus_witness_lag_entries(?:\{[^}]*\})? (\d+)/m.exec(await metricsText())?.[1];
    expect(Number(lag)).toBe(sizeOf(signed.text) - before);
    // The newer checkpoint with W1's cosignature alone does not pass as witnessed.
    expect(openCheckpoint(byW1, { logVkey: stack.logVkey, policy })).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/cosigned by W1: not enough for the policy's quorum/),
    });
  });
});
