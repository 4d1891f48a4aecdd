import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROW_FIELDS } from "./measure.js";
import { type FaultsReport, runFaults } from "./run.js";

/*
 * The harness on the cluster target (faults/cluster.ts), one row with tiny phases: three real core
 * nats-servers at R3, a leaf per agency with the connectors' processes behind it, both brokers under the
 * load, and every receipt audited against the log with its own broker's key. The row kills dcrc's leaf
 * node: dcrc fails and the others are served. Only the JSON's shape and the invariants are checked,
 * never a time.
 */
const dir = mkdtempSync(join(tmpdir(), "xbus-faults-cluster-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run faults -- --target cluster", () => {
  it("kills an agency's leaf node under load, loses no receipt, and writes the row's JSON", async () => {
    const json = join(dir, "latest.json");
    await runFaults({
      target: "cluster",
      rows: ["leaf-kill"],
      baselineMs: 500,
      faultMs: 2000,
      settleMs: 200,
      recoverMaxMs: 60_000,
      concurrency: 4,
      deadlineMs: 3000,
      json,
      log: () => {},
    });
    const written = JSON.parse(readFileSync(json, "utf8")) as FaultsReport;
    expect(written.target).toBe("cluster");
    expect(written.rows).toHaveLength(1);
    const row = written.rows[0];
    expect(Object.keys(row ?? {}).sort()).toEqual([...ROW_FIELDS].sort());
    expect(row).toMatchObject({
      id: "leaf-kill",
      target: "cluster",
      receipts: { missing: 0 },
      tree_heads: { not_extending: [] },
    });
    // dcrc's calls failed at once for want of a provider.
    expect(row?.requests.failed.PROVIDER_UNAVAILABLE).toBeGreaterThan(0);
    const r = row?.requests;
    const failed = Object.values(r?.failed ?? {}).reduce((a, b) => a + b, 0);
    expect((r?.succeeded ?? 0) + (r?.denied ?? 0) + failed).toBe(r?.sent);
    expect(r?.succeeded).toBeGreaterThan(0);
    expect(row?.receipts.checked).toBe(r?.succeeded);
    expect(row?.receipts.problems).toEqual([]);
  }, 300_000);
});
