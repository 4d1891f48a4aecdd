import { readdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

/**
 * Micro-benchmarks of single steps of the exchange path, run by `npm run
 * bench` after the end-to-end points. To add one, add a file to bench/micro/
 * that exports `benchmarks: MicroBenchmark[]`; every such file is picked up,
 * in name order, so nobody edits a shared list.
 */
export interface MicroBenchmark {
  /** Shown in the table, e.g. "policy decision, CEL condition". */
  readonly name: string;
  /** Builds what the timed operation needs, untimed, and returns it. */
  setup(): MicroOperation | Promise<MicroOperation>;
}

export interface MicroOperation {
  /**
   * One timed step. Returns how many operations it did (default 1): a
   * benchmark of many in flight (e.g. 256 log appends at once) returns 256.
   */
  run(): number | undefined | Promise<number | undefined>;
  close?(): void | Promise<void>;
}

export interface MicroResult {
  name: string;
  source: string;
  ops: number;
  duration_ms: number;
  ops_per_s: number;
  mean_us: number;
}

const MICRO_DIR = import.meta.dirname;
/** `.js` compiled (xbus bench runs from dist/), `.ts` when the sources run (vitest). */
const EXT = import.meta.filename.endsWith(".ts") ? ".ts" : ".js";
const NOT_BENCHMARKS = new Set([`registry${EXT}`]);

export async function loadMicroBenchmarks(
  dir = MICRO_DIR,
): Promise<{ source: string; benchmark: MicroBenchmark }[]> {
  const files = readdirSync(dir)
    .filter(
      (f) => f.endsWith(EXT) && !f.endsWith(`.test${EXT}`) && !f.endsWith(".d.ts") && !NOT_BENCHMARKS.has(f),
    )
    .sort();
  const out: { source: string; benchmark: MicroBenchmark }[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { benchmarks?: unknown };
    if (!Array.isArray(mod.benchmarks))
      throw new Error(`bench/micro/${f} must export benchmarks: MicroBenchmark[]`);
    // Named by the source file, compiled or not, so reports compare across runs.
    const source = `${f.slice(0, -EXT.length)}.ts`;
    for (const b of mod.benchmarks as MicroBenchmark[]) out.push({ source, benchmark: b });
  }
  return out;
}

/** Runs `op` for a short warm-up, then for `durationMs`, and reports operations per second. */
export async function runMicro(source: string, b: MicroBenchmark, durationMs: number): Promise<MicroResult> {
  const op = await b.setup();
  try {
    const loop = async (ms: number) => {
      let ops = 0;
      const start = performance.now();
      const end = start + ms;
      let now = start;
      while (now < end) {
        const r = op.run();
        const n = r instanceof Promise ? await r : r;
        ops += n ?? 1;
        now = performance.now();
      }
      return { ops, elapsed: now - start };
    };
    await loop(Math.min(500, durationMs / 4));
    const { ops, elapsed } = await loop(durationMs);
    return {
      name: b.name,
      source,
      ops,
      duration_ms: round(elapsed, 1),
      ops_per_s: round((ops * 1000) / elapsed, 0),
      mean_us: round((elapsed * 1000) / Math.max(1, ops), 2),
    };
  } finally {
    await op.close?.();
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
