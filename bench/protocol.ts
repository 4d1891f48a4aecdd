/**
 * Messages between the bench orchestrator (bench/run.ts) and its children:
 * the systems under test (bench/targets/*) and the load generator
 * (bench/load/generator.ts). Children are forked with `serialization:
 * "advanced"`, so Uint8Array and Float64Array cross as they are.
 */

import type { WitnessSamples } from "./witness-latency.js";

/** The names of the systems the bench compares. */
export const SYSTEMS = ["bare", "bus-bridged", "bus-in-process", "bus-cluster"] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** Set by the orchestrator for `--heap-profile`: the file a system's process writes its allocation profile to. */
export const HEAP_PROFILE_ENV = "XBUS_BENCH_HEAP_PROFILE";

/** Where and how the load generator calls a system: one unary gRPC method, mutual TLS. */
export interface TargetInfo {
  address: string;
  /** Every address the system answers on (several brokers): the load's workers take turns over them. */
  addresses?: string[];
  /** Full gRPC method path, e.g. `/xbus.v1.Exchange/Fetch`. */
  method: string;
  tls: { ca: string; cert: string; key: string };
  /** Consent ids the system recorded, by record size (the bus's grant requires consent). */
  consents?: Record<number, string>;
}

/**
 * How a system's parts are spread over processes. `split`, as deployed: the
 * federation's side (the bus's broker, the bare chain's front) in one process,
 * the provider agency's side (connector and adapter, the bare chain's
 * responder and backend) in another. `one-process`: all in one, as `xbus dev`
 * runs the bus (one CPU profile holds the whole exchange).
 */
export const LAYOUTS = ["split", "one-process"] as const;
export type Layout = (typeof LAYOUTS)[number];

/**
 * Since the last reset: a process's peak RSS, and the CPU time all its threads
 * used (main thread, workers, GC helpers), user and system.
 */
export interface ProcessUsage {
  peakBytes: number;
  cpuMicros: number;
}

export type TargetReply =
  /**
   * `restBytes`: the process's RSS once the system is up and idle, before any load;
   * `providerRestBytes`: the same for the provider's process in the split layout.
   */
  | { type: "ready"; target: TargetInfo; restBytes: number; providerRestBytes?: number }
  /**
   * The system's main process; `provider`: the provider's process in the split layout; `witness`: the
   * bus's exchange-to-witnessed-checkpoint samples since the last `rss` (bench/witness-latency.ts).
   */
  | ({
      type: "rss";
      provider?: ProcessUsage;
      witness?: WitnessSamples;
      /** The system's nats-server processes together: their CPU time since the last reset. */
      nats?: { cpuMicros: number };
    } & ProcessUsage)
  | { type: "failed"; message: string };

/** What the provider's process (split layout) answers the system's main process. */
export type ProviderReply =
  | { type: "ready"; restBytes: number }
  | ({ type: "rss" } & ProcessUsage)
  | { type: "failed"; message: string };

export type TargetCommand = { type: "rss"; reset: boolean } | { type: "stop" };

export interface LoadRun {
  type: "run";
  target: TargetInfo;
  /** The request message, already encoded: every call sends the same bytes. */
  request: Uint8Array;
  /** A reply shorter than this counts as an error (the record did not come back whole). */
  minReplyBytes: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export type LoadCommand = LoadRun | { type: "stop" };

export interface LoadResult {
  type: "result";
  /** Calls that completed successfully inside the measured window. */
  completed: number;
  /** Length of the measured window. */
  durationMs: number;
  /** Latency of each completed call in the window, milliseconds. */
  latenciesMs: Float64Array;
  /** Calls answered over the whole run, warm-up and failures included: what the system's CPU time was spent on. */
  answered: number;
  /** Failed calls over the whole run (warm-up included), by `code:reason`. */
  errors: Record<string, number>;
}

export type LoadReply = LoadResult | { type: "failed"; message: string };
