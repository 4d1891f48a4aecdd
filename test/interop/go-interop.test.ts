import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logVkey } from "../../core/log-format/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import { reviewClient } from "../../verifier/index.js";
import { deadline, startTestStack, type TestStack } from "../helpers/stack.js";
import { runXbusAsync } from "../helpers/xbus-process.js";
import { buildTilecheck, buildTlogcheck, tlogcheck } from "./go-build.js";

// An independent implementation checks our log: Go's golang.org/x/mod/sumdb/note opens the checkpoint
// of a real stack with the vkey the stack prints, and sumdb/tlog checks a receipt's inclusion proof
// against it (test/interop/tlogcheck.go). Nothing here is skipped: without Go the suite fails, naming
// the apt-get line. The stack runs two witnesses, so the checkpoint is the witnessed one; Go also reads
// its tree from the public hash tiles (test/interop/tilecheck, more in go-tiles.test.ts).

let stack: TestStack;
let bin: string;
let tileBin: string;
const tmp = mkdtempSync(join(tmpdir(), "xbus-interop-"));

beforeAll(async () => {
  bin = await buildTlogcheck(tmp);
  tileBin = await buildTilecheck(tmp);
  // Two witnesses, as `xbus dev` runs: the checkpoint Go opens carries their cosignatures too.
  stack = await startTestStack({ witnesses: 2 });
});
afterAll(async () => {
  await stack?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const api = () => {
  if (!stack.review) throw new Error("the stack runs without the log");
  return reviewClient(stack.review.url, stack.review.token);
};

/** The tlog-proof of leaf `index`, once a checkpoint covers it. */
async function proofOf(index: number): Promise<string> {
  for (;;) {
    const text = await api()
      .text("/v1/log/tlog-proof", { index })
      .catch(() => undefined);
    if (text) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("Go's sumdb/note and sumdb/tlog on our checkpoint and proofs", () => {
  const proofs: { index: number; leaf: string; file: string; text: string }[] = [];

  beforeAll(async () => {
    const client = stack.client();
    const subject = stack.population.citizens[0]?.id ?? "";
    for (let i = 0; i < 3; i++) {
      const res = await client.fetch(
        { service: "dcrc.citizen-record", subjectId: subject, purpose: "scholarship-eligibility" },
        deadline(),
      );
      const r = res.receipt;
      if (!r) throw new Error("no receipt");
      const index = Number(r.leafIndex);
      const text = await proofOf(index);
      const file = join(tmp, `leaf-${index}.tlog-proof`);
      writeFileSync(file, text);
      proofs.push({ index, leaf: Buffer.from(r.leafHash).toString("hex"), file, text });
    }
  });

  it("opens the checkpoint with our vkey and checks each receipt's inclusion", async () => {
    for (const p of proofs) {
      // The witnessed checkpoint: the log's signature and both witnesses' cosignature/v1 lines, which
      // Go's note.Open passes over as signatures of keys it was not given.
      expect(p.text.match(/^\u2014 witness-[12]\.dev\.xbus /gm)).toHaveLength(2);
      const { code, out } = await tlogcheck(bin, [stack.logVkey, p.file, p.leaf]);
      expect(out).toMatch(new RegExp(`^ok ${stack.logFiles.log_id} \\d+ ${p.index}\\n$`));
      expect(code).toBe(0);
    }
  });

  it("refuses a checkpoint with one byte changed, another leaf, and another log's key", async () => {
    const [p, q] = proofs as [(typeof proofs)[0], (typeof proofs)[0]];
    const forged = join(tmp, "forged.tlog-proof");
    // The checkpoint's root line: one character of its base64 changed.
    const lines = p.text.split("\n");
    const at = lines.findIndex((_l, i) => i > 0 && lines[i - 2] === stack.logFiles.log_id);
    const root = lines[at] ?? "";
    lines[at] = (root[0] === "A" ? "B" : "A") + root.slice(1);
    writeFileSync(forged, lines.join("\n"));
    expect(await tlogcheck(bin, [stack.logVkey, forged, p.leaf])).toMatchObject({
      code: 1,
      out: expect.stringMatching(/^FAIL: note.Open/),
    });
    expect(await tlogcheck(bin, [stack.logVkey, p.file, q.leaf])).toMatchObject({
      code: 1,
      out: expect.stringMatching(/^FAIL: tlog.CheckRecord/),
    });
    // A well-formed vkey of the same name with another key: Go ignores the log's signature (unknown key).
    const other = logVkey(stack.logFiles.log_id, rawEd25519(generateKeyPairSync("ed25519").publicKey));
    expect(await tlogcheck(bin, [other, p.file, p.leaf])).toMatchObject({
      code: 1,
      out: expect.stringMatching(/^FAIL: note.Open: note has no verifiable signatures/),
    });
  });

  it("reads the witnessed checkpoint's tree from our public tiles with tlog.TileHashReader", async () => {
    const { code, out } = await tlogcheck(tileBin, [stack.logVkey, stack.review?.url ?? ""]);
    expect(out).toMatch(new RegExp(`^ok ${stack.logFiles.log_id} \\d+ \\S+ [1-9]\\d*\\n$`));
    expect(code).toBe(0);
  });

  it("our own tile client agrees: xbus log monitor under the witness policy, with a receipt's leaf", async () => {
    const p = proofs[proofs.length - 1] as (typeof proofs)[0];
    const r = await runXbusAsync([
      "log",
      "monitor",
      "--url",
      stack.review?.url ?? "",
      "--vkey",
      stack.logVkey,
      "--policy",
      stack.witnessPolicyPath ?? "",
      "--leaf-index",
      String(p.index),
      "--leaf-hash",
      p.leaf,
    ]);
    expect(r.stdout).toMatch(
      new RegExp(
        `^ok: checkpoint of ${stack.logFiles.log_id}, size \\d+, root [0-9a-f]{64}, cosigned by W1 at [0-9TZ:.-]+, W2 at [0-9TZ:.-]+; the root recomputed from \\d+ hash tile\\(s\\) matches; leaf ${p.index} is in it \\(inclusion proof from tiles verified\\)\\n$`,
      ),
    );
    expect(r.status).toBe(0);
  });

  it("serves the same checkpoint without a token at GET /checkpoint", async () => {
    const res = await fetch(`${stack.review?.url}/checkpoint`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(new RegExp(`^${stack.logFiles.log_id}\\n\\d+\\n`));
  });
});
