import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

/* `xbus` runs compiled JavaScript from dist/, never TypeScript through tsx (README, "Build"). */
const root = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "xbus-compiled-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("`xbus dev --smoke` loads no TypeScript and no tsx, only dist/ and its dependencies", async () => {
  const probe = join(dir, "probe.jsonl");
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      "--import",
      join(root, "test/helpers/module-probe.mjs"),
      join(root, "bin/xbus.js"),
      "dev",
      "--smoke",
      "--dir",
      join(dir, "dev"),
    ],
    { cwd: root, env: { ...process.env, XBUS_PROBE_OUT: probe }, timeout: 120_000 },
  );
  expect(stdout).toMatch(/exchange [0-9a-f-]{36}: dcrc\.citizen-record/);

  const lines = readFileSync(probe, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const loaded: string[] = lines.flatMap((l) => (l.loaded ? [l.loaded] : []));
  const execArgv: string[] = lines.find((l) => l.execArgv)?.execArgv ?? [];
  const ours = loaded.filter((u) => u.startsWith(`file://${root}/`) && !u.includes("/node_modules/"));
  // The CLI, the broker, the indexer's worker thread: all of it from dist/.
  expect(ours.some((u) => u.endsWith("/dist/cli/main.js"))).toBe(true);
  expect(ours.some((u) => u.endsWith("/dist/broker/indexer/indexer-worker.js"))).toBe(true);
  expect(loaded.filter((u) => /\.(ts|mts|cts)$/.test(u))).toEqual([]);
  expect(loaded.filter((u) => u.includes("/node_modules/tsx/"))).toEqual([]);
  expect(
    ours.filter((u) => !u.includes("/dist/") && !u.includes("/bin/") && !u.includes("/test/helpers/")),
  ).toEqual([]);
  expect(execArgv.join(" ")).not.toContain("tsx");
});
