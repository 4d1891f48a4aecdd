import { type ChildProcess, spawn } from "node:child_process";
import { writeSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../bench/run.js";

const XBUS = join(REPO_ROOT, "bin", "xbus.js");
/** How long a server command may take to print its ready line (a loaded 2-core machine starts slowly). */
const READY_MS = 90_000;
/** How much of a process's stderr is kept in memory for `seen` (the rest is in the run's components log). */
const KEEP_CHARS = 256 * 1024;

/** One JSON log line of a server command (core/logger.ts: `time` an ISO timestamp, `msg`). */
export interface ServerLogLine {
  time: string;
  msg: string;
  [key: string]: unknown;
}

/**
 * An `xbus` server command (`xbus broker`, `xbus log serve`) in a process of its own, so that the
 * harness can SIGKILL it, a real crash, and start it again with the same config file: the same ports,
 * so clients that point at it find it again. Its stderr (JSON log lines at `info`) goes to the run's
 * components log and, the last 256 KiB of it, to `lines()` for the rows that wait for what it says.
 */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private err = "";
  /** Characters of stderr dropped from the front of `err` so far. */
  private dropped = 0;
  /** The mark where the running (or last) incarnation's stderr begins. */
  private since = 0;

  constructor(
    /** For messages and the soak: "broker broker-1". */
    readonly name: string,
    private readonly args: readonly string[],
    private readonly logFd: number,
  ) {}

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** A position in its stderr: `lines(since)` reads what came after it. */
  mark(): number {
    return this.dropped + this.err.length;
  }

  /** Its JSON log lines written whole since `since` (a mark), or since it was last started. */
  lines(since = this.since): ServerLogLine[] {
    const from = Math.max(0, since - this.dropped);
    const text = this.err.slice(from, this.err.lastIndexOf("\n") + 1);
    const out: ServerLogLine[] = [];
    for (const line of text.split("\n")) {
      if (!line.startsWith("{")) continue;
      try {
        out.push(JSON.parse(line) as ServerLogLine);
      } catch {
        // A line cut where the kept text begins.
      }
    }
    return out;
  }

  /** Starts it (again) and waits for its ready line on stdout; what it printed is returned. */
  async start(): Promise<string> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const child = spawn(process.execPath, [XBUS, ...this.args], {
      cwd: REPO_ROOT,
      env: { ...process.env, XBUS_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.since = this.mark();
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      writeSync(this.logFd, d);
      this.err += d.toString();
      if (this.err.length > KEEP_CHARS) {
        const cut = this.err.length - KEEP_CHARS;
        this.err = this.err.slice(cut);
        this.dropped += cut;
      }
    });
    const started = Date.now();
    while (!out.includes("\n")) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `${this.name} exited (${child.signalCode ?? child.exitCode}) before it was ready: ${this.err.slice(-2000)}`,
        );
      if (Date.now() - started > READY_MS) {
        await this.kill();
        throw new Error(
          `${this.name} printed no ready line in ${READY_MS / 1000} s: ${this.err.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return out;
  }

  /** SIGKILL: no close, no drain, as a crash or the OOM killer ends it. Resolves once it is gone. */
  kill(): Promise<void> {
    return this.end("SIGKILL");
  }

  /** SIGTERM (the command closes in order), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), 15_000);
    await this.end("SIGTERM");
    clearTimeout(timer);
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill(signal);
    await gone;
  }
}
