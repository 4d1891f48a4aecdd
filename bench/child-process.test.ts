import { fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import { Child } from "./child-process.js";

// A child that answers each message with a large reply, stays silent on "quiet", exits on "die".
const dir = mkdtempSync(join(tmpdir(), "xbus-child-"));
const script = join(dir, "echo.mjs");
writeFileSync(
  script,
  `process.on("message", (m) => {
     if (m.type === "die") process.exit(3);
     if (m.type === "stop") process.exit(0);
     if (m.type === "quiet") return;
     process.send({ type: "reply", n: m.n, pad: "x".repeat(64 * 1024) });
   });`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = () => new Child("echo", fork(script, [], { stdio: ["ignore", "ignore", "inherit", "ipc"] }));

describe("Child", () => {
  it("keeps no reply once its caller drops it (the fault soak's leak)", async () => {
    const child = start();
    try {
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc") as () => void;
      const refs: WeakRef<object>[] = [];
      for (let n = 0; n < 20; n++)
        refs.push(new WeakRef(await child.ask<object>({ type: "ask", n }, 10_000)));
      // WeakRef targets stay alive until the current job ends.
      await new Promise((r) => setTimeout(r, 0));
      gc();
      expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
    } finally {
      await child.stop();
    }
  });

  it("takes its listeners off after every answer and every timeout", async () => {
    const child = start();
    try {
      const base = { message: child.proc.listenerCount("message"), exit: child.proc.listenerCount("exit") };
      for (let n = 0; n < 50; n++)
        expect(await child.ask<{ n: number }>({ type: "ask", n }, 10_000)).toMatchObject({ n });
      await expect(child.ask({ type: "quiet" }, 50)).rejects.toThrow("echo did not answer in 50 ms");
      expect(child.proc.listenerCount("message")).toBe(base.message);
      expect(child.proc.listenerCount("exit")).toBe(base.exit);
    } finally {
      await child.stop();
    }
  });

  it("rejects a call pending when the child exits, and every call after", async () => {
    const child = start();
    await expect(child.ask({ type: "die" }, 10_000)).rejects.toThrow("echo exited (3)");
    await expect(child.ask({ type: "ask", n: 1 }, 10_000)).rejects.toThrow("echo exited (3)");
    await child.stop();
  });
});
