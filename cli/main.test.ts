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

it("exits 2 on a flag a command does not know, naming it, with a pointer to the command's help", async () => {
  const child = spawn(process.execPath, [join(root, "bin/xbus.js"), "policy", "check", "--bogus"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(code).toBe(2);
  expect(stderr).toMatch(/^xbus policy: Unknown option '--bogus'/);
  expect(stderr).toMatch(/Run `xbus policy check --help` for the options\.\n$/);
});
