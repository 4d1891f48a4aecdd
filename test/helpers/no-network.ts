import childProcess from "node:child_process";
import { syncBuiltinESMExports } from "node:module";
import net from "node:net";
import workerThreads from "node:worker_threads";

/*
 * The unit project's guard: a test that opens a socket, listens, or starts a
 * process or worker fails with a line saying so, instead of quietly making
 * `npm run test:unit` depend on the network or a nats-server.
 */
const refuse = (what: string) => () => {
  throw new Error(
    `a unit test must not ${what}: move this file from UNIT in vitest.config.ts to the end-to-end tests`,
  );
};
net.Socket.prototype.connect = refuse("open a socket") as never;
net.Server.prototype.listen = refuse("listen on a port") as never;
for (const fn of ["spawn", "spawnSync", "exec", "execFile", "execFileSync", "execSync", "fork"] as const)
  (childProcess as Record<string, unknown>)[fn] = refuse("start a process");
(workerThreads as { Worker: unknown }).Worker = class {
  constructor() {
    refuse("start a worker thread")();
  }
};
// Named imports of the builtins (`import { spawn } from "node:child_process"`) see the guard too.
syncBuiltinESMExports();
