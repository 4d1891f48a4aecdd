import type { LogIndexReader, Witnessing } from "../broker/index.js";

/**
 * Time from an exchange to a witnessed checkpoint that covers it, as weighted samples: each time the
 * witnessed checkpoint grows from size a to b, up to `perCheckpoint` leaves of [a, b) evenly spread are
 * read from the index, and each gives (when the checkpoint was seen) − (the record's time, when the
 * broker received the request), weighted by the leaves it stands for. Seen by polling every `pollMs`,
 * so a sample may be up to that much late.
 */
export interface WitnessSamples {
  latenciesMs: Float64Array;
  weights: Float64Array;
  checkpoints: number;
  entries: number;
}

export function watchWitnessLatency(
  index: LogIndexReader,
  w: Witnessing,
  o: { pollMs?: number; perCheckpoint?: number } = {},
) {
  const perCheckpoint = o.perCheckpoint ?? 16;
  let last = w.latest()?.size ?? 0;
  let latencies: number[] = [];
  let weights: number[] = [];
  let checkpoints = 0;
  let entries = 0;
  const poll = () => {
    const now = Date.now();
    const cur = w.latest();
    if (!cur || cur.size <= last) return;
    const from = last;
    const n = cur.size - from;
    last = cur.size;
    checkpoints++;
    entries += n;
    const k = Math.min(perCheckpoint, n);
    for (let j = 0; j < k; j++) {
      const time = index.entries(from + Math.floor((j * n) / k), 1)[0]?.record?.time;
      if (time === undefined) continue;
      latencies.push(now - Number(time));
      weights.push(n / k);
    }
  };
  const timer = setInterval(poll, o.pollMs ?? 50);
  timer.unref();
  return {
    /** The samples since the last take. */
    take(): WitnessSamples {
      poll();
      const out = {
        latenciesMs: Float64Array.from(latencies),
        weights: Float64Array.from(weights),
        checkpoints,
        entries,
      };
      latencies = [];
      weights = [];
      checkpoints = 0;
      entries = 0;
      return out;
    },
    stop: () => clearInterval(timer),
  };
}

/** The weighted q-quantile (0 < q ≤ 1) of samples; null when there are none. */
export function weightedPercentile(latencies: Float64Array, weights: Float64Array, q: number): number | null {
  if (latencies.length === 0) return null;
  const order = [...latencies.keys()].sort((a, b) => (latencies[a] ?? 0) - (latencies[b] ?? 0));
  const total = weights.reduce((s, x) => s + x, 0);
  let seen = 0;
  for (const i of order) {
    seen += weights[i] ?? 0;
    if (seen >= q * total) return latencies[i] ?? null;
  }
  return latencies[order[order.length - 1] ?? 0] ?? null;
}
