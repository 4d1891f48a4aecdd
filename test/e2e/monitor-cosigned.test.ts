import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { cosignatureLine, logVkey, parseNote, signCheckpoint } from "../../core/log-format/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import { WITNESS_KEY_FILE } from "../../stack/index.js";
import type { TreeHeadJson } from "../../verifier/index.js";
import { eventually } from "../helpers/cluster.js";
import { serveInSuite } from "../helpers/serve-in-suite.js";
import { fetchSample, startTestStack, type TestStack } from "../helpers/stack.js";
import { runXbusAsync } from "../helpers/xbus-process.js";

// `xbus log verify --state` as a monitor of a real stack with two witnesses: it checks the witnessed C2SP
// checkpoint (GET /checkpoint) against the log's vkey and the witness policy, remembers it, and refuses,
// leaving its state file byte for byte, a checkpoint one witness did not cosign and a fork of the one it
// remembers (same size, another root, signed by the log's own key), printing both notes. A proxy in front
// of the stack's review API serves the altered checkpoints.

let stack: TestStack;
const tmp = mkdtempSync(join(tmpdir(), "xbus-monitor-cosigned-"));
const policyFile = join(tmp, "witness-policy.txt");
let vkey = "";

/** What the proxy does to GET /checkpoint: nothing when undefined. */
let alter: ((note: string) => string) | undefined;
/** Requests the proxy has passed on. */
let forwarded = 0;
const proxy = new Hono();
proxy.all("*", async (c) => {
  forwarded++;
  const url = new URL(c.req.url);
  const auth = c.req.header("authorization");
  const res = await fetch(`${stack.review?.url}${url.pathname}${url.search}`, {
    headers: auth ? { authorization: auth } : {},
  });
  const body = await res.text();
  const type = res.headers.get("content-type") ?? "text/plain";
  const out = url.pathname === "/checkpoint" && alter && res.status === 200 ? alter(body) : body;
  return c.body(out, res.status as 200, { "content-type": type });
});
const server = serveInSuite(proxy);

const exchange = async () => Number((await fetchSample(stack)).receipt?.leafIndex);
const sizeOf = (note: string) => Number(note.split("\n")[1]);
/** The witnessed checkpoint, once it covers leaf `leaf` (the witnesses cosign within a second or so). */
const witnessedCovering = (leaf: number) =>
  eventually(async () => {
    const res = await fetch(`${stack.review?.url}/checkpoint`);
    const text = await res.text();
    if (res.status !== 200 || !(sizeOf(text) > leaf)) throw new Error(`no witnessed checkpoint over ${leaf}`);
    return text;
  }, 30_000);

beforeAll(async () => {
  stack = await startTestStack({ witnesses: 2 });
  vkey = stack.logVkey;
  writeFileSync(policyFile, readFileSync(stack.witnessPolicyPath ?? "", "utf8"));
  await witnessedCovering(await exchange());
}, 120_000);
afterAll(async () => {
  await stack?.close();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  alter = undefined;
});

const verify = (file: string, ...args: string[]) =>
  runXbusAsync(["log", "verify", "--url", server.url, "--state", file, ...args], {
    XBUS_REVIEW_TOKEN: stack.review?.token ?? "",
  });
const policyArgs = () => ["--vkey", vkey, "--policy", policyFile];
interface State {
  format: string;
  head: TreeHeadJson;
  checkpoint?: { vkey: string; note: string };
}
const stateOf = (file: string) => JSON.parse(readFileSync(file, "utf8")) as State;

/** A state file made by a first run under the policy: it holds the witnessed checkpoint. */
async function firstRun(name: string): Promise<string> {
  const file = join(tmp, name);
  const r = await verify(file, ...policyArgs());
  expect(r.stdout).toMatch(
    /; the checkpoint served at \/checkpoint \(size \d+, cosigned by W1 at \d{4}-[\d\-T:.]+Z, W2 at \d{4}-[\d\-T:.]+Z\) is consistent with the tree head, and remembered from now on; .* created with the head of size \d+/,
  );
  expect(r.status).toBe(0);
  return file;
}

/** A run that must FAIL with `problem` (and print `more`) and leave the state file byte for byte. */
async function refused(file: string, args: string[], problem: RegExp, more: string[] = []): Promise<string> {
  const before = readFileSync(file);
  const { head } = stateOf(file);
  const r = await verify(file, ...args);
  expect(r.stderr).toBe("");
  expect(r.stdout).toMatch(/^FAIL: /);
  expect(r.stdout).toMatch(problem);
  for (const m of more) expect(r.stdout).toContain(m);
  expect(
    r.stdout.endsWith(
      `the state file ${file} is left as it was: size ${head.tree_size}, root ${head.root_hash}\n`,
    ),
  ).toBe(true);
  expect(r.status).toBe(1);
  expect(readFileSync(file).equals(before)).toBe(true);
  return r.stdout;
}

// Each test runs the CLI two or three times, each a process that exports the log: on two shared cores, more
// than the default 30 s.
describe("xbus log verify --state with the log's vkey and the witness policy", { timeout: 120_000 }, () => {
  it("accepts the witnessed checkpoint, remembers its note, and a later run proves the next one extends it", async () => {
    const file = await firstRun("grows.json");
    const first = stateOf(file);
    expect(first.format).toBe("xbus-log-monitor-state/2");
    expect(first.checkpoint?.vkey).toBe(vkey);
    const note = first.checkpoint?.note ?? "";
    expect(
      parseNote(note)
        .signatures.map((s) => s.name)
        .sort(),
    ).toEqual([stack.logFiles.log_id, "witness-1.dev.xbus", "witness-2.dev.xbus"].sort());
    const next = await witnessedCovering(await exchange());
    const r = await verify(file, ...policyArgs());
    expect(r.stdout).toContain(`extends the one last verified (size ${sizeOf(note)})`);
    expect(r.status).toBe(0);
    expect(sizeOf(stateOf(file).checkpoint?.note ?? "")).toBeGreaterThanOrEqual(sizeOf(next));
  });

  it("refuses a checkpoint with W2's cosignature taken out, naming W2 and the quorum", async () => {
    const file = await firstRun("stripped.json");
    alter = (note) =>
      note
        .split("\n")
        .filter((l) => !l.startsWith("— witness-2.dev.xbus "))
        .join("\n");
    await refused(
      file,
      policyArgs(),
      /^FAIL: the checkpoint served at \/checkpoint: the checkpoint \(size \d+\) is cosigned by W1: not enough for the policy's quorum dev-witnesses \(no cosignature of W2\)\n/,
    );
  });

  it("refuses a fork of the remembered checkpoint signed by the log's key, even cosigned by both witnesses' keys, and prints both notes", async () => {
    const file = await firstRun("forked.json");
    const remembered = stateOf(file).checkpoint?.note ?? "";
    const size = sizeOf(remembered);
    const logKey = createPrivateKey(readFileSync(stack.logFiles.key));
    const forkRoot = randomBytes(32);
    const fork = signCheckpoint(
      { origin: stack.logFiles.log_id, size, rootHash: forkRoot },
      logKey,
      rawEd25519(createPublicKey(logKey)),
    );
    const now = Math.floor(Date.now() / 1000);
    const cosigned = [1, 2].reduce((note, i) => {
      const key = createPrivateKey(readFileSync(join(stack.dir, "witnesses", `w${i}`, WITNESS_KEY_FILE)));
      const line = cosignatureLine(
        parseNote(fork).text,
        `witness-${i}.dev.xbus`,
        key,
        rawEd25519(createPublicKey(key)),
        now,
      );
      return note + line;
    }, fork);
    const rememberedRoot = Buffer.from(remembered.split("\n")[2] ?? "", "base64").toString("hex");
    const forked = new RegExp(
      `^FAIL: the log was rewritten or forked: the checkpoint last verified \\(state file ${file}\\) and the checkpoint served at /checkpoint are both of size ${size} but their roots differ, ${rememberedRoot} and ${forkRoot.toString("hex")}\n`,
    );
    const both = [
      `\nthe checkpoint last verified (state file ${file}):\n${remembered.trimEnd()}\n`,
      `\nthe checkpoint served at /checkpoint:\n${cosigned.trimEnd()}\n`,
    ];
    // Under the policy: the witnesses' keys (stolen, or the witnesses colluding) do not hide the fork.
    alter = () => cosigned;
    await refused(file, policyArgs(), forked, both);
    // Signed by the log's key alone, with the vkey the state remembers and no policy.
    alter = () => fork;
    await refused(file, [], forked, [
      both[0] ?? "",
      `\nthe checkpoint served at /checkpoint:\n${fork.trimEnd()}\n`,
    ]);
  });

  it("reads a state file of the earlier format (a tree head only) and adds the checkpoint to it", async () => {
    const file = join(tmp, "old.json");
    const head = (await (
      await fetch(`${stack.review?.url}/v1/log/tree-head`, {
        headers: { authorization: `Bearer ${stack.review?.token}` },
      })
    ).json()) as TreeHeadJson;
    const old = { format: "xbus-log-monitor-state/1", verified_at: "2026-12-01T00:00:00.000Z", head };
    writeFileSync(file, `${JSON.stringify(old, null, 2)}\n`);
    const r = await verify(file, ...policyArgs());
    expect(r.stdout).toMatch(
      new RegExp(
        `the one last verified \\(size ${head.tree_size}, root ${head.root_hash}\\); .*cosigned by W1 at .*is consistent with the tree head, and remembered from now on; ${file} now holds`,
      ),
    );
    expect(r.status).toBe(0);
    expect(stateOf(file)).toMatchObject({ format: "xbus-log-monitor-state/2", checkpoint: { vkey } });
  });

  it("a --vkey other than the one the state remembers is refused before anything is fetched", async () => {
    const file = await firstRun("other-vkey.json");
    const asked = forwarded;
    const other = logVkey(stack.logFiles.log_id, rawEd25519(generateKeyPairSync("ed25519").publicKey));
    await refused(
      file,
      ["--vkey", other],
      /^FAIL: the checkpoint last verified \(state file .*\) was verified with the log's vkey .*, but the vkey given is /,
    );
    expect(forwarded).toBe(asked);
  });
});
