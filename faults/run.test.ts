import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROW_FIELDS } from "./measure.js";
import { runFaults } from "./run.js";
import { TINY_PHASES } from "./tiny-phases.js";

/*
 * The harness end to end on one row with tiny phases: a real stack, real connector processes, the load
 * in its own process, and the receipt audit against the log's signed heads. Only the JSON's shape and
 * the invariants are checked, never a time.
 */
const dir = mkdtempSync(join(tmpdir(), "xbus-faults-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run faults", () => {
  it("runs one fault row and writes every field of its JSON", async () => {
    const json = join(dir, "latest.json");
    const report = await runFaults({
      ...TINY_PHASES,
      rows: ["connector-kill-one"],
      json,
    });
    const written = JSON.parse(readFileSync(json, "utf8")) as typeof report;
    expect(written.kind).toBe("faults");
    expect(written.rows).toHaveLength(1);
    const row = written.rows[0];
    expect(row).toMatchObject({
      id: "connector-kill-one",
      target: "single-node",
      receipts: { missing: 0 },
      tree_heads: { not_extending: [] },
    });
    expect(Object.keys(row ?? {}).sort()).toEqual([...ROW_FIELDS].sort());
    // Every answered call is counted once: succeeded, denied or failed by some reason.
    const r = row?.requests;
    const failed = Object.values(r?.failed ?? {}).reduce((a, b) => a + b, 0);
    expect((r?.succeeded ?? 0) + (r?.denied ?? 0) + failed).toBe(r?.sent);
    expect(r?.succeeded).toBeGreaterThan(0);
    expect(r?.denied).toBeGreaterThan(0);
    expect(row?.receipts.checked).toBe(r?.succeeded);
    expect(typeof row?.log_entries_without_answer.count).toBe("number");
  }, 180_000);
});
