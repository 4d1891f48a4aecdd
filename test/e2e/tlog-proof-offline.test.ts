import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logVkey } from "../../core/log-format/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import { ReceiptSchema } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { deadline, startTestStack, type TestStack } from "../helpers/stack.js";
import { runXbusAsync } from "../helpers/xbus-process.js";

// A receipt from a real stack with two witnesses, upgraded to a C2SP tlog-proof by `xbus log proof`,
// verifies with the stack stopped (`xbus log receipt --offline --proof`) against the log's vkey and the
// witness policy, and fails when one byte of the proof changes or a witness's cosignature is missing.

let stack: TestStack | undefined;
const tmp = mkdtempSync(join(tmpdir(), "xbus-tlog-proof-"));
const file = join(tmp, "receipt.tlog-proof");
let receiptB64 = "";
let vkey = "";
let brokerKey = "";
let exchangeIds: string[] = [];
const policyFile = join(tmp, "witness-policy.txt");

beforeAll(async () => {
  const s = await startTestStack({ witnesses: 2 });
  stack = s;
  vkey = s.logVkey;
  writeFileSync(policyFile, readFileSync(s.witnessPolicyPath ?? "", "utf8"));
  brokerKey = join(tmp, "broker-signing.pub.pem");
  writeFileSync(brokerKey, s.brokerPublicKey.export({ type: "spki", format: "pem" }));
  const res = await s.client().fetch(
    {
      service: "dcrc.citizen-record",
      subjectId: s.population.citizens[0]?.id ?? "",
      purpose: "scholarship-eligibility",
    },
    deadline(),
  );
  if (!res.receipt) throw new Error("no receipt");
  receiptB64 = Buffer.from(toBinary(ReceiptSchema, res.receipt)).toString("base64");
  exchangeIds = s.outcomes.map((o) => o.exchangeId);
  const api = ["--url", s.review?.url ?? "", "--token", s.review?.token ?? ""];
  // The checkpoint covers the leaf within a second or so: `proof` says PENDING (exit 2) until then.
  for (;;) {
    const r = await runXbusAsync([
      "log",
      "proof",
      "--base64",
      receiptB64,
      "--vkey",
      vkey,
      "--policy",
      policyFile,
      "--out",
      file,
      ...api,
    ]);
    if (r.status === 0) break;
    if (r.status !== 2) throw new Error(`xbus log proof: ${r.stdout}${r.stderr}`);
    await new Promise((w) => setTimeout(w, 200));
  }
  await s.close();
  stack = undefined;
}, 120_000);
afterAll(async () => {
  await stack?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const offline = (proof: string, more: string[] = []) =>
  runXbusAsync([
    "log",
    "receipt",
    "--base64",
    receiptB64,
    "--broker-key",
    brokerKey,
    "--offline",
    "--proof",
    proof,
    "--vkey",
    vkey,
    // Nothing answers here: the check must need no network.
    "--url",
    "http://127.0.0.1:9",
    ...more,
  ]);

describe("xbus log proof + xbus log receipt --offline --proof", () => {
  it("writes a C2SP tlog-proof with the exchange ID as extra", () => {
    const text = readFileSync(file, "utf8");
    const extra = /^extra (\S+)$/m.exec(text)?.[1] ?? "";
    expect(text.startsWith("c2sp.org/tlog-proof@v1\nextra ")).toBe(true);
    expect(exchangeIds).toContain(Buffer.from(extra, "base64").toString());
  });

  it("verifies with the stack stopped", async () => {
    const r = await offline(file);
    expect(r.stdout).toMatch(
      /^ok: leaf \d+ of .*, included in the checkpoint of size \d+ signed by the log's key \(offline/,
    );
    expect(r.status).toBe(0);
  });

  it("verifies under the witness policy: the checkpoint carries both witnesses' cosignatures, with their times", async () => {
    const r = await offline(file, ["--policy", policyFile]);
    expect(r.stdout).toMatch(
      /^ok: leaf \d+ of .* signed by the log's key, cosigned by W1 at \d{4}-\d\d-\d\dT[\d:.]+Z, W2 at \d{4}-.*\(offline/,
    );
    expect(r.status).toBe(0);
  });

  it("refuses a checkpoint that lacks the quorum: one witness's cosignature taken out", async () => {
    const text = readFileSync(file, "utf8");
    const lines = text.split("\n");
    const w2 = lines.findIndex((l) => l.startsWith("— witness-2.dev.xbus "));
    expect(w2).toBeGreaterThan(0);
    const short = join(tmp, "one-cosignature.tlog-proof");
    writeFileSync(short, lines.filter((_, i) => i !== w2).join("\n"));
    const r = await offline(short, ["--policy", policyFile]);
    expect(r.stdout).toMatch(/^FAIL: .*cosigned by W1: not enough for the policy's quorum dev-witnesses/);
    expect(r.status).toBe(1);
    // Without the policy, the same file is still the log's own signed checkpoint.
    expect((await offline(short)).status).toBe(0);
  });

  it("fails when any one byte of the proof lines or the checkpoint changes", async () => {
    const text = readFileSync(file, "utf8");
    const lines = text.split("\n");
    const indexLine = lines.findIndex((l) => l.startsWith("index "));
    // The first proof line if there is one, the checkpoint's root line, its signature line.
    const blank = lines.indexOf("");
    const targets = [blank > indexLine + 1 ? indexLine + 1 : -1, blank + 3, blank + 5].filter((i) => i > 0);
    for (const at of targets) {
      const line = lines[at] ?? "";
      const pos = line.length - 6;
      const changed = [...lines];
      changed[at] = line.slice(0, pos) + (line[pos] === "A" ? "B" : "A") + line.slice(pos + 1);
      const forged = join(tmp, `forged-${at}.tlog-proof`);
      writeFileSync(forged, changed.join("\n"));
      const r = await offline(forged);
      expect(r.stdout, `line ${at} changed`).toMatch(/^FAIL: /);
      expect(r.status).toBe(1);
    }
  });

  it("refuses a proof checked against another key of the same log name", async () => {
    const other = logVkey(vkey.split("+")[0] ?? "", rawEd25519(generateKeyPairSync("ed25519").publicKey));
    const bad = await offline(file, ["--vkey", other]);
    expect(bad.stdout).toMatch(/FAIL: .*the checkpoint carries no signature of the log's key/);
    expect(bad.status).toBe(1);
  });
});
