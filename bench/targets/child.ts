import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { HEAP_PROFILE_ENV, type TargetCommand, type TargetInfo, type TargetReply } from "../protocol.js";

export interface RunningTarget {
  target: TargetInfo;
  close(): Promise<void>;
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

/**
 * The child side of a system under test: starts it, tells the parent where it
 * listens, and answers for the peak RSS of this process (sampled every 50 ms,
 * so it is the process's own memory, not the load generator's or the
 * orchestrator's) and for the CPU time all its threads used. Exits when told
 * to stop or when the parent goes away.
 */
export function serveTarget(start: () => Promise<RunningTarget>): void {
  const send = (m: TargetReply) => process.send?.(m);
  let peak = process.memoryUsage.rss();
  let cpuSince = process.cpuUsage();
  const heapFile = process.env[HEAP_PROFILE_ENV];
  const heap = heapFile ? allocationSampler(heapFile) : undefined;
  const sample = () => {
    const rss = process.memoryUsage.rss();
    if (rss > peak) peak = rss;
  };
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  sampler.unref();

  let running: RunningTarget | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    clearInterval(sampler);
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
      sample();
      const cpu = process.cpuUsage(cpuSince);
      send({ type: "rss", peakBytes: peak, cpuMicros: cpu.user + cpu.system });
      if (m.reset) {
        heap?.start();
        peak = process.memoryUsage.rss();
        cpuSince = process.cpuUsage();
      }
    } else if (m.type === "stop") void stop(0);
  });
  process.on("disconnect", () => void stop(0));
  start().then(
    (r) => {
      running = r;
      send({ type: "ready", target: r.target, restBytes: process.memoryUsage.rss() });
    },
    (err: unknown) => {
      send({ type: "failed", message: err instanceof Error ? err.message : String(err) });
      void stop(1);
    },
  );
}
