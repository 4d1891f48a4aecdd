import { fork } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { Child } from "../child-process.js";
import {
  HEAP_PROFILE_ENV,
  type ProcessUsage,
  type ProviderReply,
  type TargetCommand,
  type TargetInfo,
  type TargetReply,
} from "../protocol.js";
import type { WitnessSamples } from "../witness-latency.js";

export interface RunningTarget {
  target: TargetInfo;
  /** The provider's process, in the split layout: its usage is reported beside this process's. */
  provider?: ProviderProcess;
  /** The samples of exchange-to-witnessed-checkpoint time since the last call (the bus with witnesses). */
  witnessSamples?: () => WitnessSamples;
  /** The system's nats-server processes (their pids), whose CPU time is reported beside the system's own. */
  natsPids?: () => readonly (number | undefined)[];
  close(): Promise<void>;
}

/**
 * CPU time of other processes (nats-server: not Node, so it cannot meter itself) from /proc/PID/stat:
 * utime + stime, in the kernel's USER_HZ (100 on Linux: 10 ms steps), since the last reset. A process
 * that is gone by the read counts nothing for that window.
 */
export function procCpuMeter(pids: () => readonly (number | undefined)[]) {
  const ticks = (pid: number): number | undefined => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after the command name (which may hold spaces, so split after its closing parenthesis):
      // state is field 3, utime 14 and stime 15.
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(f[11]) + Number(f[12]);
    } catch {
      return undefined;
    }
  };
  let since = new Map<number, number>();
  const read = () => {
    const now = new Map<number, number>();
    for (const pid of pids()) {
      if (pid === undefined) continue;
      const t = ticks(pid);
      if (t !== undefined) now.set(pid, t);
    }
    return now;
  };
  since = read();
  return {
    read(reset: boolean): { cpuMicros: number } {
      const now = read();
      let t = 0;
      for (const [pid, v] of now) t += v - (since.get(pid) ?? 0);
      if (reset) since = now;
      return { cpuMicros: t * 10_000 };
    },
  };
}

const RSS_SAMPLE_MS = 50;

/**
 * Every allocation from the first measured run on, sampled (V8's sampling heap
 * profiler, keeping objects that the garbage collector has since freed: what
 * was allocated, not what is still alive), written at stop as a .heapprofile.
 */
function allocationSampler(file: string) {
  const session = new Session();
  session.connect();
  let started: Promise<unknown> | undefined;
  return {
    start() {
      started ??= session.post("HeapProfiler.startSampling", {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    },
    async write() {
      if (!started) return;
      await started;
      const { profile } = await session.post("HeapProfiler.stopSampling");
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** This process's peak RSS (sampled every 50 ms) and CPU time since the last reset. */
function processMeter() {
  let peak = process.memoryUsage.rss();
  let cpuSince = process.cpuUsage();
  const sample = () => {
    const rss = process.memoryUsage.rss();
    if (rss > peak) peak = rss;
  };
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  sampler.unref();
  return {
    read(reset: boolean): ProcessUsage {
      sample();
      const cpu = process.cpuUsage(cpuSince);
      const usage = { peakBytes: peak, cpuMicros: cpu.user + cpu.system };
      if (reset) {
        peak = process.memoryUsage.rss();
        cpuSince = process.cpuUsage();
      }
      return usage;
    },
    stop: () => clearInterval(sampler),
  };
}

/**
 * What every measured process does: meters itself, starts its part, answers
 * `rss` (with `usage`, its own figures and whatever the part adds) and `stop`,
 * and exits when told to or when its parent goes away. `ready` builds the
 * first message once the part is up.
 */
function serveProcess<R extends { close(): Promise<void> }>(
  start: () => Promise<R>,
  ready: (running: R, restBytes: number) => TargetReply | ProviderReply,
  usage: (own: ProcessUsage, running: R | undefined, reset: boolean) => Promise<TargetReply | ProviderReply>,
): void {
  const send = (m: TargetReply | ProviderReply) => process.send?.(m);
  const meter = processMeter();
  const heapFile = process.env[HEAP_PROFILE_ENV];
  const heap = heapFile ? allocationSampler(heapFile) : undefined;
  let running: R | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    meter.stop();
    await heap
      ?.write()
      .catch((err: unknown) => process.stderr.write(`bench target: heap profile not written: ${err}\n`));
    await running
      ?.close()
      .catch((err: unknown) => process.stderr.write(`bench target: close failed: ${err}\n`));
    process.exit(code);
  };
  process.on("message", (m: TargetCommand) => {
    if (m.type === "rss") {
      const own = meter.read(m.reset);
      if (m.reset) heap?.start();
      usage(own, running, m.reset).then(send, (err: unknown) =>
        send({ type: "failed", message: `usage not read: ${err}` }),
      );
    } else if (m.type === "stop") void stop(0);
  });
  process.on("disconnect", () => void stop(0));
  start().then(
    (r) => {
      running = r;
      send(ready(r, process.memoryUsage.rss()));
    },
    (err: unknown) => {
      send({ type: "failed", message: err instanceof Error ? err.message : String(err) });
      void stop(1);
    },
  );
}

/**
 * The child side of a system under test: starts it, tells the parent where it
 * listens, and answers for the peak RSS of this process (sampled every 50 ms,
 * so it is the process's own memory, not the load generator's or the
 * orchestrator's) and for the CPU time all its threads used, and the same for
 * the provider's process when the system has one. Exits when told to stop or
 * when the parent goes away.
 */
export function serveTarget(start: () => Promise<RunningTarget>): void {
  let natsMeter: ReturnType<typeof procCpuMeter> | undefined;
  serveProcess(
    start,
    (r, restBytes) => ({
      type: "ready",
      target: r.target,
      restBytes,
      ...(r.provider ? { providerRestBytes: r.provider.restBytes } : {}),
    }),
    async (own, r, reset) => {
      const provider = r?.provider ? await r.provider.usage(reset) : undefined;
      const witness = r?.witnessSamples?.();
      if (r?.natsPids && !natsMeter) natsMeter = procCpuMeter(r.natsPids);
      const nats = natsMeter?.read(reset);
      return {
        type: "rss",
        ...own,
        ...(provider ? { provider } : {}),
        ...(witness ? { witness } : {}),
        ...(nats ? { nats } : {}),
      };
    },
  );
}

/**
 * The provider agency's side of a system, in a process of its own (split
 * layout): started with the config its parent sends first (over IPC, so no
 * key is on a command line).
 */
export function serveProvider<C>(start: (config: C) => Promise<{ close(): Promise<void> }>): void {
  const config = new Promise<C>((resolveConfig) =>
    process.once("message", (m: { type: string; config?: C }) => {
      if (m.type === "start") resolveConfig(m.config as C);
    }),
  );
  serveProcess(
    () => config.then(start),
    (_, restBytes) => ({ type: "ready", restBytes }),
    async (own) => ({ type: "rss", ...own }),
  );
}

export interface ProviderProcess {
  /** Its RSS once up, before any load. */
  restBytes: number;
  usage(reset: boolean): Promise<ProcessUsage>;
  stop(): Promise<void>;
}

const PROVIDER_READY_MS = 60_000;

/**
 * Forks `script` (a sibling of this file in dist/bench/targets) as the
 * provider's process, sends it `config`, and waits until it is up. It inherits this process's Node flags (a CPU profile goes to
 * the same folder, named by pid); an allocation profile goes beside this
 * process's, with `-provider` in its name.
 */
export async function forkProvider(script: string, config: unknown): Promise<ProviderProcess> {
  const heapFile = process.env[HEAP_PROFILE_ENV];
  const env = heapFile
    ? { ...process.env, [HEAP_PROFILE_ENV]: heapFile.replace(/(\.heapprofile)?$/, "-provider.heapprofile") }
    : process.env;
  const child = new Child(
    script,
    fork(join(import.meta.dirname, script), [], {
      env,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  const ready = await child.ask<ProviderReply>({ type: "start", config }, PROVIDER_READY_MS);
  if (ready.type !== "ready") {
    await child.stop();
    throw new Error(`${script} did not start: ${ready.type === "failed" ? ready.message : ready.type}`);
  }
  return {
    restBytes: ready.restBytes,
    async usage(reset) {
      const r = await child.ask<ProviderReply>({ type: "rss", reset });
      if (r.type !== "rss") throw new Error(`${script}: ${r.type === "failed" ? r.message : r.type}`);
      return { peakBytes: r.peakBytes, cpuMicros: r.cpuMicros };
    },
    stop: () => child.stop(),
  };
}
