import { generateKeyPairSync, randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import { createTelemetry } from "../../core/telemetry/index.js";
import { type LogService, startLogService, tokenHash } from "../../stack/index.js";
import { reviewClient, type TreeHeadJson, treeHeadProblem, verifyLive } from "../../verifier/index.js";
import { publishLogRecords, until, useLogStream } from "../helpers/log-stream.js";

/*
 * Two log services on one stream and one key (README, "Log service"): the active one signs, the
 * standby serves the heads it signs from its own index. The active one is killed (its worker ended
 * at once: no last round, its lease not given up); the standby takes the lease over once it lapses
 * and signs what came since. The heads before and after are checked with the verifier: both signed
 * by the log's key, the later proved to extend the earlier, the whole log recomputed (xbus log verify).
 * No timing is asserted; the takeover time is measured and printed.
 */
const LOG_ID = "gov.bt/xbus-log-takeover-test";
const LEASE_MS = 1000;
const ROUND_MS = 200;
const { privateKey: logKey, publicKey } = generateKeyPairSync("ed25519");
const KEY_B64 = rawEd25519(publicKey).toString("base64");
const token = randomBytes(24).toString("base64url");
const suite = useLogStream("xbus-takeover-");
const telemetry = createTelemetry({ serviceName: "xbus-takeover-test", env: {} });
const services: LogService[] = [];
afterAll(async () => {
  for (const s of services) await s.close().catch(() => {});
  await telemetry.shutdown();
});

async function logService(name: string): Promise<LogService> {
  const s = await startLogService({
    nats: suite.nc,
    indexerNatsOptions: { servers: suite.nats.url, name: `indexer-${name}` },
    logId: LOG_ID,
    logSecret: randomBytes(32),
    logKey,
    indexPath: join(suite.dir, `${name}.sqlite`),
    signer: { holder: name, leaseMs: LEASE_MS },
    treeHeadEveryMs: ROUND_MS,
    review: { hostname: "127.0.0.1", port: 0, tokenHashes: [tokenHash(token)] },
    logger: createLogger({ service: name }, "warn", () => {}),
    telemetry,
  });
  services.push(s);
  return s;
}

const headOf = (s: LogService) => reviewClient(s.reviewUrl, token).get<TreeHeadJson>("/v1/log/tree-head");

describe("the standby log service", () => {
  it("signs once the active one is killed; the heads before and after are consistent", async () => {
    await publishLogRecords(suite.nc, 5);
    const active = await logService("active");
    await until("the first instance to sign", () => active.indexer.role() === "active");
    const standby = await logService("standby");
    await until(
      "the standby to serve the active's head of 5",
      () => standby.index.latestTreeHead()?.treeSize === 5,
    );
    expect(standby.indexer.role()).toBe("standby");
    const readiness = async (s: LogService) => (await fetch(`${s.reviewUrl}/readyz`)).json();
    expect(await readiness(standby)).toMatchObject({ checks: { signer: { ok: true, detail: "standby" } } });
    const before = await headOf(standby);
    expect(before).toEqual(await headOf(active));

    const killedAt = performance.now();
    await active.indexer.abort();
    await publishLogRecords(suite.nc, 4);
    await until(
      "the standby to sign the entries that came after the kill",
      () => standby.index.latestTreeHead()?.treeSize === 9,
      30_000,
    );
    const takeoverMs = Math.round(performance.now() - killedAt);
    console.log(
      `standby takeover: signed ${takeoverMs} ms after the active log service was killed (lease ${LEASE_MS} ms, rounds every ${ROUND_MS} ms)`,
    );
    expect(standby.indexer.role()).toBe("active");
    expect(await readiness(standby)).toMatchObject({ checks: { signer: { ok: true, detail: "active" } } });
    const after = await headOf(standby);
    const trust = {
      key: { value: KEY_B64, from: "the log's key" },
      logId: { value: LOG_ID, from: "the log" },
    };
    expect(treeHeadProblem(before, "the head before", trust)).toBeUndefined();
    expect(treeHeadProblem(after, "the head after", trust)).toBeUndefined();
    const live = await verifyLive(reviewClient(standby.reviewUrl, token), {
      publicKey: KEY_B64,
      logId: LOG_ID,
      remembered: { head: before, name: "the active instance's last head" },
    });
    expect(live).toMatchObject({ ok: true, history: "extends" });
  });
});
