import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { LAYOUTS, type Layout, SYSTEMS, type SystemName } from "../../bench/protocol.js";
import { type BenchOptions, DEFAULT_OUT, runBench } from "../../bench/run.js";
import type { Command } from "./command.js";

const HELP = `xbus bench: the bus against a bare chain of the same hops, side by side in one run.

  --quick              one concurrency (64), 512 B records, one round, short: a smoke check
  --duration SECONDS   measured time per system, point and round (default 5; quick 3)
  --warmup SECONDS     unmeasured time before each measured window (default 1)
  --rounds N           rounds per point; systems alternate in each (default 2; quick 1)
  --concurrency LIST   in-flight levels for 512 B records, e.g. 16,64,256 (default; quick 64)
  --systems LIST       any of ${SYSTEMS.join(",")} (default all)
  --no-large           skip the 64 KB and 500 KB records
  --layout NAME        split (default): the broker (the bare chain's front) in one process, the provider
                       agency's connector and adapter (responder and backend) in another, as deployed;
                       one-process: all in one, as \`xbus dev\` runs it (one CPU profile per system)
  --micro SECONDS      time per micro-benchmark, 0 skips them (default 2; quick 0.5)
  --profile DIR        write a CPU profile (node --cpu-prof) of each system's process to DIR
  --heap-profile DIR   write an allocation profile of each system's main thread to DIR/<system>.heapprofile
                       (everything allocated from the first measured run on; see bench/heap-summary.ts)
  --node-flags=FLAGS   extra Node/V8 flags for every system's process (all alike; not the load
                       generator's), e.g. --node-flags="--max-semi-space-size=8"
  --out FILE           where the JSON goes (default bench/results/latest.json)
`;

function positiveNumber(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min)
    throw new Error(`--${name} must be a number ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export function parseBenchArgs(args: string[], log: (line: string) => void): BenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      duration: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
      concurrency: { type: "string" },
      systems: { type: "string" },
      "no-large": { type: "boolean", default: false },
      layout: { type: "string" },
      micro: { type: "string" },
      profile: { type: "string" },
      "node-flags": { type: "string" },
      "heap-profile": { type: "string" },
      out: { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const quick = values.quick === true;
  const concurrency = values.concurrency
    ?.split(",")
    .map((c) => positiveNumber("concurrency", c.trim(), 1) as number);
  if (concurrency?.some((c) => !Number.isInteger(c) || c > 4096))
    throw new Error("--concurrency takes whole numbers from 1 to 4096");
  const systems = values.systems?.split(",").map((s) => s.trim());
  for (const s of systems ?? [])
    if (!(SYSTEMS as readonly string[]).includes(s))
      throw new Error(`--systems: unknown system ${JSON.stringify(s)} (known: ${SYSTEMS.join(", ")})`);
  const nodeFlags = (values["node-flags"] ?? "").split(/\s+/).filter(Boolean);
  for (const f of nodeFlags)
    if (!/^--[a-z0-9][a-z0-9-]*(=[\w.,:/-]+)?$/i.test(f))
      throw new Error(`--node-flags: ${JSON.stringify(f)} is not a --flag or --flag=value`);
  const layout = values.layout ?? "split";
  if (!(LAYOUTS as readonly string[]).includes(layout))
    throw new Error(`--layout must be ${LAYOUTS.join(" or ")}, got ${JSON.stringify(layout)}`);
  const rounds = positiveNumber("rounds", values.rounds, 1);
  if (rounds !== undefined && !Number.isInteger(rounds)) throw new Error("--rounds must be a whole number");
  return {
    quick,
    durationMs: (positiveNumber("duration", values.duration, 0.05) ?? (quick ? 3 : 5)) * 1000,
    warmupMs: (positiveNumber("warmup", values.warmup) ?? 1) * 1000,
    rounds: rounds ?? (quick ? 1 : 2),
    concurrency: concurrency ?? (quick ? [64] : [16, 64, 256]),
    largeRecords: !quick && values["no-large"] !== true,
    systems: (systems as SystemName[] | undefined) ?? [...SYSTEMS],
    layout: layout as Layout,
    microDurationMs: (positiveNumber("micro", values.micro) ?? (quick ? 0.5 : 2)) * 1000,
    out: values.out ? resolve(values.out) : DEFAULT_OUT,
    profileDir: values.profile ? resolve(values.profile) : undefined,
    nodeFlags,
    heapProfileDir: values["heap-profile"] ? resolve(values["heap-profile"]) : undefined,
    log,
  };
}

export const benchCommand: Command = {
  name: "bench",
  summary: "benchmark the bus against a bare chain of the same hops (--quick for a smoke check)",
  async run(args) {
    if (args.includes("--help") || args.includes("-h")) {
      process.stdout.write(HELP);
      return 0;
    }
    const log = (line: string) => process.stdout.write(`${line}\n`);
    let options: BenchOptions;
    try {
      options = parseBenchArgs(args, log);
    } catch (err) {
      process.stderr.write(`xbus bench: ${(err as Error).message}\n\n${HELP}`);
      return 2;
    }
    const report = await runBench(options);
    // Errors make the run fail; speed never does (that is for people to read, not for CI to judge).
    return report.points.some((p) => p.errors > 0) ? 1 : 0;
  },
};
