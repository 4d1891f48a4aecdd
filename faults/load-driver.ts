import { examResultsOf } from "../adapters/examples/moe/exam-records.js";
import { medicalFitnessOf } from "../adapters/examples/moh/health-records.js";
import { createPopulation } from "../adapters/examples/population.js";
import { drivingLicenceOf } from "../adapters/examples/rsta/licence-records.js";
import { Child } from "../bench/child-process.js";
import { forkScript } from "./parts.js";
import type { LoadEvent, LoadReply, LoadRequest } from "./protocol.js";
import type { Target } from "./target.js";

const PURPOSE = "fault-test";
const DRAIN_MS = 500;

/**
 * The load's mix over the four example agencies: one service of each, asked
 * by both consumer systems the harness's bundle grants (and by the licensing
 * system's second certificate, which the revocation row revokes), plus the
 * citizen portal asking each, which no grant allows: a quarter of the load is
 * denied by policy.
 */
export function loadMix(consumers: readonly string[]): LoadRequest[] {
  const population = createPopulation();
  const subject = (has: (c: (typeof population.citizens)[number]) => unknown) => {
    const c = population.citizens.find(has);
    if (!c) throw new Error("the synthetic population has no subject for the load's mix");
    return c.id;
  };
  const services: [string, string][] = [
    ["dcrc.citizen-record", subject(() => true)],
    ["moe.exam-results", subject((c) => examResultsOf(population, c))],
    ["moh.medical-fitness", subject((c) => medicalFitnessOf(population, c))],
    ["rsta.driving-licence", subject((c) => drivingLicenceOf(population, c))],
  ];
  const index = (name: string) => {
    const i = consumers.indexOf(name);
    if (i < 0) throw new Error(`the target has no consumer ${name}`);
    return i;
  };
  const out: LoadRequest[] = [];
  for (const [service, subjectId] of services) {
    for (const c of ["scholarships", "licensing", "licensing-b"])
      out.push({ consumer: index(c), service, subjectId, purpose: PURPOSE, expect: "allow" });
    out.push({ consumer: index("portal"), service, subjectId, purpose: PURPOSE, expect: "deny" });
  }
  return out;
}

/** The load process, driven: started against a target, its events drained every 500 ms into `events`. */
export class LoadDriver {
  readonly events: LoadEvent[] = [];
  readonly requests: LoadRequest[];
  private readonly child: Child;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> = Promise.resolve();
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly target: Target,
    logFd: number | "inherit",
  ) {
    this.requests = loadMix(target.consumers.map((c) => c.name));
    this.child = new Child("load", forkScript("load", logFd));
  }

  static async start(
    target: Target,
    o: { concurrency: number; deadlineMs: number; tag: string; logFd: number | "inherit" },
  ): Promise<LoadDriver> {
    const d = new LoadDriver(target, o.logFd);
    const r = await d.child.ask<LoadReply>(
      {
        type: "start",
        brokers: [...target.brokers],
        ca: target.ca,
        consumers: target.consumers.map((c) => ({ name: c.name, cert: c.cert, key: c.key })),
        requests: d.requests,
        concurrency: o.concurrency,
        deadlineMs: o.deadlineMs,
        tag: o.tag,
      },
      30_000,
    );
    if (r.type !== "started") {
      await d.child.stop();
      throw new Error(`the load did not start: ${r.type === "failed" ? r.message : r.type}`);
    }
    d.timer = setInterval(() => void d.drain(), DRAIN_MS);
    return d;
  }

  get pid(): number | undefined {
    return this.child.proc.pid;
  }

  /** Fetches the events the load has collected since the last drain. */
  drain(): Promise<void> {
    this.draining = this.draining.then(async () => {
      const r = await this.child.ask<LoadReply>({ type: "drain" }, 30_000);
      if (r.type === "failed") throw new Error(`the load failed: ${r.message}`);
      if (r.type !== "events") return;
      for (const e of r.events) this.events.push(e);
      for (const w of this.waiters) w();
    });
    return this.draining;
  }

  /** Resolves true when an event matching `match` and answered after `since` arrives, or false after `timeoutMs`. */
  waitFor(
    match: (e: LoadEvent, r: LoadRequest) => boolean,
    since: number,
    timeoutMs: number,
  ): Promise<boolean> {
    let seen = this.events.length;
    return new Promise((resolve) => {
      const check = () => {
        for (; seen < this.events.length; seen++) {
          const e = this.events[seen] as LoadEvent;
          const r = this.requests[e.request];
          if (r && e.doneAt >= since && match(e, r)) return finish(true);
        }
      };
      const finish = (v: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(v);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.drain().catch(() => {});
    await this.child.stop();
  }
}
