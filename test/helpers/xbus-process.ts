import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const XBUS = join(import.meta.dirname, "../../bin/xbus.js");
const ROOT = join(import.meta.dirname, "../..");
const running = new Set<ChildProcess>();

/** `xbus …` as a child process of a test, its output collected as it comes. */
export interface XbusProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** Waits until `seen(stdout, stderr)` holds; fails naming `what` if the process exits or time runs out. */
  waitFor(seen: (stdout: string, stderr: string) => boolean, what: string, timeoutMs?: number): Promise<void>;
}

export function spawnXbus(args: string[], logLevel?: "debug" | "info" | "warn" | "error"): XbusProcess {
  const child = spawn(process.execPath, [XBUS, ...args], {
    cwd: ROOT,
    env: logLevel ? { ...process.env, XBUS_LOG_LEVEL: logLevel } : process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(seen, what, timeoutMs = 45_000) {
      const started = Date.now();
      while (!seen(out, err)) {
        if (child.exitCode !== null)
          throw new Error(`xbus ${args[0]} exited ${child.exitCode} before ${what}: ${err}`);
        if (Date.now() - started > timeoutMs)
          throw new Error(`xbus ${args[0]}: no ${what} after ${timeoutMs / 1000} s: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** `xbus …` started and ready: its first line on stdout (a server command's ready line) is `ready`. */
export async function startXbus(
  args: string[],
  logLevel?: "debug" | "info" | "warn" | "error",
): Promise<XbusProcess & { ready: string }> {
  const p = spawnXbus(args, logLevel);
  await p.waitFor((out) => out.includes("\n"), "ready line");
  return { ...p, ready: p.stdout() };
}

/** Ends every xbus process a test started and left running (afterAll). */
export function killXbusProcesses(): void {
  for (const c of running) if (c.exitCode === null) c.kill("SIGKILL");
}

/** `xbus …` run to its end (a command that must refuse to start): its exit code and output. */
export function runXbus(
  args: string[],
  logLevel?: "debug" | "info" | "warn" | "error",
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [XBUS, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
    env: logLevel ? { ...process.env, XBUS_LOG_LEVEL: logLevel } : process.env,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `xbus …` run to its end without blocking this process: for a command that talks to a server the test
 * itself runs (the review API), which runXbus's synchronous spawn would starve. `env` is added to this
 * process's environment.
 */
export async function runXbusAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [XBUS, ...args], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      status: typeof e.code === "number" ? e.code : 1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? "",
    };
  }
}

/** The log lines of a renewal a server command put in force (certs/expiry.ts `logRenewal`). */
export const renewalLines = (stderr: string): Record<string, unknown>[] =>
  logLines(stderr).filter((l) => String(l.msg).startsWith("renewed TLS files in force"));

/** The JSON log lines of a child process, those written whole so far. */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .slice(0, stderr.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
