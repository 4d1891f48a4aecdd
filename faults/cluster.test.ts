import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROW_FIELDS, type RowResult } from "./measure.js";
import { type FaultsReport, runFaults } from "./run.js";
import { TINY_PHASES } from "./tiny-phases.js";

/*
 * The harness on the cluster target (faults/cluster.ts), three rows with tiny phases on one cluster:
 * three real core nats-servers at R3, a leaf per agency with the connectors' processes behind it, both
 * brokers (`xbus broker` processes) under the load, the log services (`xbus log serve`, active and
 * standby), and every receipt audited against the log with its own broker's key. The rows kill dcrc's
 * leaf node (dcrc fails, the others are served), a broker (the other carries on, the killed one serves
 * again from its port) and the signing log service (the standby signs on). Only the JSON's shape and
 * the invariants are checked, never a time.
 */
const dir = mkdtempSync(join(tmpdir(), "xbus-faults-cluster-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let written: FaultsReport;
const rowOf = (id: string): RowResult => {
  const row = written.rows.find((r) => r.id === id);
  if (!row) throw new Error(`no row ${id} in the JSON`);
  return row;
};
/** What every row is held to: its fields, no receipt missing, every head extending, each call counted once. */
function expectSound(row: RowResult): void {
  expect(Object.keys(row).sort()).toEqual([...ROW_FIELDS].sort());
  expect(row).toMatchObject({
    target: "cluster",
    receipts: { missing: 0 },
    tree_heads: { not_extending: [] },
  });
  const r = row.requests;
  const failed = Object.values(r.failed).reduce((a, b) => a + b, 0);
  expect(r.succeeded + r.denied + failed).toBe(r.sent);
  expect(r.succeeded).toBeGreaterThan(0);
  expect(row.receipts.checked).toBe(r.succeeded);
  expect(row.receipts.problems).toEqual([]);
}

beforeAll(async () => {
  const json = join(dir, "latest.json");
  await runFaults({
    target: "cluster",
    rows: ["broker-kill", "log-service-kill", "leaf-kill"],
    ...TINY_PHASES,
    faultMs: 2000,
    recoverMaxMs: 60_000,
    json,
  });
  written = JSON.parse(readFileSync(json, "utf8")) as FaultsReport;
}, 600_000);

describe("npm run faults -- --target cluster", () => {
  it("writes one row per fault asked for", () => {
    expect(written.target).toBe("cluster");
    expect(written.rows.map((r) => r.id)).toEqual(["broker-kill", "log-service-kill", "leaf-kill"]);
  });

  it("kills an agency's leaf node under load, loses no receipt, and writes the row's JSON", () => {
    const row = rowOf("leaf-kill");
    expectSound(row);
    // dcrc's calls failed at once for want of a provider.
    expect(row.requests.failed.PROVIDER_UNAVAILABLE).toBeGreaterThan(0);
  });

  it("SIGKILLs a broker process: its calls fail, the other serves on, and it serves again from its port", () => {
    const row = rowOf("broker-kill");
    expectSound(row);
    expect(row.problems).toEqual([]);
    expect(row.status).toBe("passed");
    // The load's calls to the dead broker failed as unavailable (gRPC code 14: no reason, the process is gone).
    expect(row.requests.failed["code 14"]).toBeGreaterThan(0);
    expect(row.notes.join("\n")).toMatch(/^killed broker-2 \(localhost:\d+\); broker-1 left$/m);
    expect(row.notes.join("\n")).toMatch(/^the load's first success through broker-2 came \d+ ms after/m);
    // The fail-over channel (round_robin over both) had calls after the kill, and broker-1 answered them.
    const failover =
      /^fail-over channel .*?(\d+) sent from 1000 ms after it \((.*?)\), answered by (.*)$/m.exec(
        row.notes.join("\n"),
      );
    expect(failover, "the row notes the fail-over channel").not.toBeNull();
    expect(failover?.[3]).toMatch(/^broker-1 ×\d+$/);
  });

  it("SIGKILLs the signing log service: the standby takes the lease and signs on", () => {
    const row = rowOf("log-service-kill");
    expectSound(row);
    expect(row.problems).toEqual([]);
    expect(row.status).toBe("passed");
    const notes = row.notes.join("\n");
    const killed = /^killed (log-[ab]), the signer/m.exec(notes)?.[1];
    expect(killed).toBeDefined();
    const other = killed === "log-a" ? "log-b" : "log-a";
    expect(notes).toMatch(new RegExp(`^${other} took the signer's lease \\d+ ms after the kill$`, "m"));
    expect(notes).toMatch(/^the first head signed after the kill \(size \d+\)/m);
    // Back, it stands by: the standby holds the lease and renews it.
    expect(notes).toMatch(new RegExp(`^${killed} restarted; it says it is standby$`, "m"));
  });
});
