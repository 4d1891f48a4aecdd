import { createHash, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkpointSigner, witnessPost } from "../../broker/index.js";
import { createCa, issueCertificate } from "../../certs/index.js";
import { createLogger } from "../../core/index.js";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { freePorts, startWitnessService, WITNESS_KEY_FILE, WITNESS_STATE_FILE } from "../../stack/index.js";
import { openCheckpoint, parseWitnessPolicy } from "../../verifier/index.js";
import { LOG_ID, writeTestLogIndex } from "../helpers/log-index.js";
import { killXbusProcesses, runXbus, startXbus } from "../helpers/xbus-process.js";

// `xbus witness` as a real process: it makes its key (0600) on first start and prints its vkey,
// answers add-checkpoint by c2sp.org/tlog-witness's table over HTTP, and after a restart it has the
// same key and still refuses what does not extend what it cosigned before the restart.

const COUNT = 12;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
const state = mkdtempSync(join(tmpdir(), "xbus-witness-cli-"));
afterAll(() => {
  killXbusProcesses();
  log.close();
  rmSync(state, { recursive: true, force: true });
});
const signer = checkpointSigner(LOG_ID, log.privateKey);
const cp = (size: number, root = log.reader.tree.root(size).toString("hex")) =>
  signer.checkpointOf({ treeSize: size, rootHash: root });
const proof = (a: number, b: number) =>
  a === 0 || a === b ? [] : log.reader.tree.consistencyProof(a, b).map((h) => h.toString("base64"));
const body = (old: number, size: number, note = cp(size)) =>
  [`old ${old}`, ...proof(old, size), "", note].join("\n");

const start = async (port: number) => {
  const p = await startXbus([
    "witness",
    "--name",
    "w.test.example",
    "--state",
    state,
    "--log",
    log.vkey,
    "--listen",
    `127.0.0.1:${port}`,
  ]);
  await p.waitFor((out) => /\nvkey \S+\n/.test(out), "vkey line");
  const vkey = /\nvkey (\S+)\n/.exec(p.stdout())?.[1] ?? "";
  const url = `http://127.0.0.1:${port}`;
  const add = async (b: string) => {
    const res = await fetch(`${url}/add-checkpoint`, { method: "POST", body: b });
    return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
  };
  return { p, vkey, url, add };
};

describe("xbus witness", () => {
  it("refuses to start without a log, or with a log key that is not one", () => {
    const none = runXbus(["witness", "--name", "w", "--state", state]);
    expect([none.status, none.stderr]).toEqual([1, "xbus witness: --log: is required (one or more)\n"]);
    const bad = runXbus(["witness", "--name", "w", "--state", state, "--log", "nope"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^xbus witness: --log: log "nope": not a verifier key/);
  });

  it("answers add-checkpoint by the spec's table, and a restart keeps its key and state", async () => {
    const [port] = await freePorts(1);
    const first = await start(port as number);
    expect(first.p.stdout()).toMatch(
      /^xbus witness: ready at http:\/\/127\.0\.0\.1:\d+, logs xbus-test-log\n/,
    );
    expect(statSync(join(state, WITNESS_KEY_FILE)).mode & 0o777).toBe(0o600);
    const policy = parseWitnessPolicy(`witness W ${first.vkey}\nquorum W\n`);
    const health = async () => {
      const res = await fetch(`${first.url}/healthz`);
      return [res.status, await res.json()];
    };
    expect(await health()).toEqual([200, { status: "ok", logs: [{ origin: LOG_ID, size: null }] }]);

    const ok = await first.add(body(0, 5));
    expect(ok.status).toBe(200);
    expect(openCheckpoint(cp(5) + ok.text, { logVkey: log.vkey, policy })).toMatchObject({ ok: true });
    expect(await first.add(body(0, 8))).toEqual({ status: 409, text: "5\n", type: "text/x.tlog.size" });
    expect((await first.add(body(5, 5, cp(5, "ab".repeat(32))))).status).toBe(422);
    const other = checkpointSigner("gov.bt/unknown", log.privateKey).checkpointOf({
      treeSize: 8,
      rootHash: log.reader.tree.root(8).toString("hex"),
    });
    expect((await first.add(body(5, 8, other))).status).toBe(404);
    const forged = checkpointSigner(LOG_ID, generateKeyPairSync("ed25519").privateKey);
    expect(
      (
        await first.add(
          body(5, 8, forged.checkpointOf({ treeSize: 8, rootHash: log.reader.tree.root(8).toString("hex") })),
        )
      ).status,
    ).toBe(403);
    expect(JSON.parse(readFileSync(join(state, WITNESS_STATE_FILE), "utf8"))[LOG_ID]).toMatchObject({
      size: 5,
    });
    // The refusals above left it at 5; the answer holds no key and no path.
    expect(await health()).toEqual([200, { status: "ok", logs: [{ origin: LOG_ID, size: 5 }] }]);

    first.p.child.kill("SIGTERM");
    expect(await first.p.exited).toBe(0);
    const again = await start(port as number);
    expect(again.vkey).toBe(first.vkey);
    expect(await again.add(body(0, 8))).toMatchObject({ status: 409, text: "5\n" });
    expect((await again.add(body(5, 5, cp(5, "ab".repeat(32))))).status).toBe(422);
    const more = await again.add(body(5, COUNT));
    expect(more.status).toBe(200);
    const served = await (
      await fetch(`${again.url}/${createHash("sha256").update(LOG_ID).digest("hex")}/checkpoint`)
    ).text();
    expect(openCheckpoint(served, { logVkey: log.vkey, policy })).toMatchObject({
      ok: true,
      checkpoint: { size: COUNT },
    });
    again.p.child.kill("SIGTERM");
    expect(await again.p.exited).toBe(0);
  });
});

describe("a witness over HTTPS", () => {
  it("is reached by the log's POST only with the CA that issued its certificate", async () => {
    const ca = createCa({ trustDomain: "gov.bt" });
    const other = createCa({ trustDomain: "gov.bt" });
    const cert = issueCertificate(ca, {
      commonName: "witness (test)",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      usage: "server",
    });
    const tlsState = mkdtempSync(join(tmpdir(), "xbus-witness-tls-"));
    const w = await startWitnessService({
      name: "w.tls.example",
      stateDir: tlsState,
      logVkeys: [log.vkey],
      tls: { cert: cert.certPem, key: cert.keyPem },
      logger: createLogger({}, "error", () => {}),
    });
    try {
      expect(w.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const post = witnessPost({ ca: ca.certPem, timeoutMs: 5000 });
      const res = await post(`${w.url}/add-checkpoint`, { method: "POST", body: body(0, 3) });
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^— w\.tls\.example /);
      const conflict = await post(`${w.url}/add-checkpoint`, { method: "POST", body: body(0, 4) });
      expect([conflict.status, await conflict.text()]).toEqual([409, "3\n"]);
      const stranger = witnessPost({ ca: other.certPem, timeoutMs: 5000 });
      await expect(stranger(`${w.url}/add-checkpoint`, { method: "POST", body: body(3, 4) })).rejects.toThrow(
        /certificate/,
      );
    } finally {
      await w.close();
      rmSync(tlsState, { recursive: true, force: true });
    }
  });
});
