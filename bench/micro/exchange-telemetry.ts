/*
 * What the broker's instrumentation costs per exchange, CPU only: the spans
 * (exchange + five steps), the traceparent for NATS, the metrics and the debug
 * log check, with no I/O (spans go to an exporter that drops them). Run alone:
 * `npx tsx bench/micro/exchange-telemetry.ts` prints per case the median and
 * p99 over batches of the mean time of one exchange's instrumentation. It
 * exports `benchmarks` in the shape bench/micro/registry.ts (issue 7) picks up;
 * the end-to-end ratio (tracing on at default sampling vs off) belongs there.
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { beginExchange } from "../../broker/exchange/exchange-trace.js";
import type { ExchangeOutcome } from "../../broker/index.js";
import { Catalogue, parseServiceName } from "../../core/contract/index.js";
import { silentLogger } from "../../core/index.js";
import { createTelemetry, type Telemetry } from "../../core/telemetry/index.js";

const catalogue = Catalogue.load();
const service = parseServiceName("dcrc.citizen-record");
const outcome = {
  exchangeId: "0190f1c2-0000-7000-8000-000000000000",
  service: service.full,
  consumer: "spiffe://gov.bt/agency/moe/system/scholarships",
  decision: "allow",
  status: "OK",
  traceId: "",
  latencyMs: 1,
} as ExchangeOutcome;
const drop = {
  export: (_s: unknown[], done: (r: { code: 0 }) => void) => done({ code: 0 }),
  shutdown: async () => {},
};

const cases: { name: string; telemetry: () => Telemetry | undefined }[] = [
  { name: "no telemetry", telemetry: () => undefined },
  {
    name: "metrics only (tracing off, the default)",
    telemetry: () => createTelemetry({ serviceName: "b", env: {} }),
  },
  {
    name: "tracing on, default sampling (10% + errors)",
    telemetry: () => createTelemetry({ serviceName: "b", env: {}, spanExporter: drop, sampleRatio: 0.1 }),
  },
  {
    name: "tracing on, every trace",
    telemetry: () => createTelemetry({ serviceName: "b", env: {}, spanExporter: drop, sampleRatio: 1 }),
  },
];

const BATCH = 200;
let sink = 0;

function exchanges(t: Telemetry | undefined, n: number): number {
  for (let i = 0; i < n; i++) {
    const x = beginExchange(t, catalogue, silentLogger, undefined);
    x.enter("identity");
    x.enter("validation");
    x.enter("policy");
    x.enter("routing", service);
    sink += x.traceparent()?.length ?? 0;
    x.enter("log_append");
    x.end(outcome);
  }
  return n;
}

/** For the benchmark's registry: one run() = BATCH instrumented exchanges. */
export const benchmarks = cases.map((c) => ({
  name: `exchange instrumentation: ${c.name}`,
  setup: () => {
    const t = c.telemetry();
    return { run: () => exchanges(t, BATCH) };
  },
}));

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

function main() {
  const BATCHES = Number(process.env.BATCHES ?? 200);
  for (const c of cases) {
    const t = c.telemetry();
    exchanges(t, 5_000);
    const means: number[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const t0 = performance.now();
      exchanges(t, BATCH);
      means.push(((performance.now() - t0) * 1000) / BATCH);
    }
    means.sort((x, y) => x - y);
    const q = (p: number) => means[Math.min(means.length - 1, Math.floor(p * means.length))] ?? Number.NaN;
    process.stdout.write(
      `${c.name.padEnd(48)} median ${q(0.5).toFixed(1)} µs  p99 ${q(0.99).toFixed(1)} µs per exchange\n`,
    );
  }
  if (sink < 0) process.stdout.write("\n");
}
