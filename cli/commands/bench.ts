import { resolve } from "node:path";
import { Command, CommanderError } from "commander";
import { LAYOUTS, type Layout, SYSTEMS, type SystemName } from "../../bench/protocol.js";
import { type BenchOptions, DEFAULT_OUT, runBench } from "../../bench/run.js";
import { act, UsageError, type XbusCommand } from "./command.js";

interface BenchFlags {
  quick?: true;
  duration?: string;
  warmup?: string;
  rounds?: string;
  concurrency?: string;
  systems?: string;
  large: boolean;
  layout?: string;
  micro?: string;
  profile?: string;
  heapProfile?: string;
  nodeFlags?: string;
  out?: string;
}

/** `xbus bench`'s flags; what they mean in numbers is benchOptions'. */
function benchFlags(): Command {
  return new Command("bench")
    .summary("benchmark the bus against a bare chain of the same hops (--quick for a smoke check)")
    .description("The bus against a bare chain of the same hops, side by side in one run.")
    .option("--quick", "one concurrency (64), 512 B records, one round, short: a smoke check")
    .option("--duration <seconds>", "measured time per system, point and round (default 5; quick 3)")
    .option("--warmup <seconds>", "unmeasured time before each measured window (default 1)")
    .option("--rounds <n>", "rounds per point; systems alternate in each (default 2; quick 1)")
    .option("--concurrency <list>", "in-flight levels for 512 B records (default 16,64,256; quick 64)")
    .option("--systems <list>", `any of ${SYSTEMS.join(",")} (default all)`)
    .option("--no-large", "skip the 64 KB and 500 KB records")
    .option(
      "--layout <name>",
      "split (default): the broker (the bare chain's front) in one process, the provider agency's connector " +
        "and adapter (responder and backend) in another, as deployed; one-process: all in one, as `xbus dev` " +
        "runs it (one CPU profile per system)",
    )
    .option("--micro <seconds>", "time per micro-benchmark, 0 skips them (default 2; quick 0.5)")
    .option("--profile <dir>", "write a CPU profile (node --cpu-prof) of each system's process to DIR")
    .option(
      "--heap-profile <dir>",
      "write an allocation profile of each system's main thread to DIR/<system>.heapprofile (everything " +
        "allocated from the first measured run on; see bench/heap-summary.ts)",
    )
    .option(
      "--node-flags <flags>",
      "extra Node/V8 flags for every system's process (all alike; not the load generator's), e.g. --node-flags=\"--max-semi-space-size=8\"",
    )
    .option("--out <file>", "where the JSON goes (default bench/results/latest.json)");
}

function positiveNumber(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min)
    throw new Error(`--${name} must be a number ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** `xbus bench ARGS` as options of runBench; a flag it does not know or a bad value throws, naming it. */
export function parseBenchArgs(args: string[], log: (line: string) => void): BenchOptions {
  const cmd = benchFlags()
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  try {
    cmd.parse(args, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) throw new Error(err.message.replace(/^error: /, ""));
    throw err;
  }
  return benchOptions(cmd.opts<BenchFlags>(), log);
}

function benchOptions(values: BenchFlags, log: (line: string) => void): BenchOptions {
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
  const nodeFlags = (values.nodeFlags ?? "").split(/\s+/).filter(Boolean);
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
    largeRecords: !quick && values.large,
    systems: (systems as SystemName[] | undefined) ?? [...SYSTEMS],
    layout: layout as Layout,
    microDurationMs: (positiveNumber("micro", values.micro) ?? (quick ? 0.5 : 2)) * 1000,
    out: values.out ? resolve(values.out) : DEFAULT_OUT,
    profileDir: values.profile ? resolve(values.profile) : undefined,
    nodeFlags,
    heapProfileDir: values.heapProfile ? resolve(values.heapProfile) : undefined,
    log,
  };
}

export const benchCommand: XbusCommand = {
  name: "bench",
  create: (run) => {
    const cmd = benchFlags();
    return act<BenchFlags>(run, cmd, async (flags) => {
      let options: BenchOptions;
      try {
        options = benchOptions(flags, (line) => run.io.out(`${line}\n`));
      } catch (err) {
        // One line and the pointer to --help, as every usage error (it printed the whole help before).
        throw new UsageError((err as Error).message);
      }
      const report = await runBench(options);
      // Errors make the run fail; speed never does (that is for people to read, not for CI to judge).
      return report.points.some((p) => p.errors > 0) ? 1 : 0;
    });
  },
};
