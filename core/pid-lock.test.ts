import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { takePidLock } from "./pid-lock.js";

const dir = mkdtempSync(join(tmpdir(), "xbus-pid-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("is taken once, refused while its holder lives, taken over when the holder has died", () => {
  const path = join(dir, "a.lock");
  const first = takePidLock(path);
  expect(first.taken).toBe(true);
  expect(readFileSync(path, "utf8")).toBe(String(process.pid));
  if (first.taken) first.release();
  expect(existsSync(path)).toBe(false);

  writeFileSync(path, String(process.ppid)); // a live process
  expect(takePidLock(path)).toEqual({ taken: false, holder: process.ppid });

  writeFileSync(path, String(spawnSync("true").pid)); // a process that has exited
  const again = takePidLock(path);
  expect(again.taken).toBe(true);
  if (again.taken) again.release();
});
