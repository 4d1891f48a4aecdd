import { spawn } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";

const root = join(import.meta.dirname, "..");

it("ends quietly when the reader of its output goes away (`xbus … | head`)", async () => {
  const child = spawn(
    process.execPath,
    [join(root, "bin/xbus.js"), "policy", "who-can", "dcrc.citizen-record"],
    {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  // Closed before the command writes its first line: every write meets a closed pipe.
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(stderr).toBe("");
  expect(code).toBe(0);
});
