import type { Logger } from "../../core/index.js";
import { openCheckpoint, type WitnessPolicy } from "../../verifier/index.js";
import type { CheckpointOf, CheckpointSource } from "./checkpoint-signer.js";

export interface WitnessingOptions {
  index: {
    latestTreeHead(): { treeSize: number; rootHash: string } | undefined;
    tree: { consistencyProof(first: number, second: number): Buffer[] };
  };
  checkpointOf: CheckpointOf;
  /** Each witness's submission prefix (`<url>/add-checkpoint` is posted to). */
  witnesses: readonly { name: string; url: string }[];
  /** Which cosignatures make a checkpoint witnessed (C2SP tlog-policy), and the log's vkey. */
  policy: WitnessPolicy;
  logVkey: string;
  logger: Logger;
  /** Default the global fetch (tests pass a Hono app's request; the log service one with a timeout and a CA). */
  fetch?: (url: string, init: { method: "POST"; body: string }) => Promise<Response>;
  /** Milliseconds; default Date.now (the lag in seconds, the retry times). */
  now?: () => number;
  /** A witness that failed is asked again after this, doubling per failure up to maxRetryMs; default 250. */
  retryMs?: number;
  /** Default 30 000. */
  maxRetryMs?: number;
  /** Told each newly witnessed checkpoint (or one with more cosignatures), e.g. to post it to the review API's thread. */
  onWitnessed?: (c: { size: number; note: string }) => void;
}

export interface Witnessing extends CheckpointSource {
  /** Pushes the latest checkpoint to every witness that has not cosigned it and is due; never throws. */
  round(): Promise<void>;
  /** Sizes the latest checkpoint is ahead of the witnessed one (0 when witnessed). */
  lag(): number;
  /** Seconds since the log first signed a head the witnessed checkpoint does not cover (0 when none). */
  lagSeconds(): number;
}

/** At most this many (size, first seen) marks are kept while witnessing lags (about an hour of heads). */
const MAX_MARKS = 4096;

/**
 * Pushes the log's checkpoints to its witnesses (C2SP tlog-witness add-checkpoint, with a consistency
 * proof from the size each witness last cosigned) and serves the newest checkpoint whose cosignatures
 * meet the policy's quorum, as soon as they do: a slow witness does not hold up a checkpoint the others
 * already witnessed, and its cosignature is added when it comes. A witness that answers 409 names its
 * size, and the next request starts from there; one that fails is asked again after a backoff (250 ms
 * doubling to 30 s), so an outage costs one failed request per witness per backoff. Exchanges and
 * signing never wait for any of this.
 */
export function witnessing(o: WitnessingOptions): Witnessing {
  const post = o.fetch ?? ((url, init) => fetch(url, init));
  const now = o.now ?? Date.now;
  const retryMs = o.retryMs ?? 250;
  const maxRetryMs = o.maxRetryMs ?? 30_000;
  const state = new Map(
    o.witnesses.map((w) => [
      w.name,
      {
        known: 0,
        /** Its cosignature line on the checkpoint of `size`. */
        cosigned: undefined as { size: number; line: string } | undefined,
        failures: 0,
        retryAt: 0,
      },
    ]),
  );
  const anyQuorum: WitnessPolicy = { ...o.policy, satisfied: () => true };
  let witnessed: { size: number; note: string } | undefined;
  let latestSize = 0;
  /** Each size the log signed beyond the witnessed one, with when this instance first saw it. */
  const marks: { size: number; at: number }[] = [];
  const proof = (a: number, b: number) =>
    a === 0 || a >= b ? [] : o.index.tree.consistencyProof(a, b).map((h) => h.toString("base64"));

  const push = async (w: { name: string; url: string }, size: number, note: string): Promise<string> => {
    const s = state.get(w.name);
    if (!s) return "";
    for (let attempt = 0; attempt < 2; attempt++) {
      const old = s.known;
      if (old > size) return "";
      const body = [`old ${old}`, ...proof(old, size), "", note].join("\n");
      const res = await post(`${w.url}/add-checkpoint`, { method: "POST", body });
      const text = await res.text();
      if (res.status === 200) {
        s.known = size;
        return text;
      }
      if (res.status === 409 && /^(0|[1-9][0-9]*)\n$/.test(text)) {
        s.known = Number(text.trim());
        continue;
      }
      o.logger.warn(
        { witness: w.name, status: res.status, answer: text.slice(0, 200) },
        "witness refused the checkpoint",
      );
      return "";
    }
    return "";
  };

  /** Publishes `note` plus the cosignatures of `size` held, if they meet the quorum and it is newer. */
  const publish = (size: number, note: string): boolean => {
    if (witnessed && witnessed.size > size) return false;
    const lines = [...state.values()].filter((s) => s.cosigned?.size === size).map((s) => s.cosigned?.line);
    const cosigned = note + lines.join("");
    if (witnessed?.note === cosigned) return true;
    const opened = openCheckpoint(cosigned, { logVkey: o.logVkey, policy: o.policy });
    if (!opened.ok) return false;
    witnessed = { size, note: cosigned };
    o.onWitnessed?.(witnessed);
    while (marks.length > 0 && (marks[0]?.size ?? 0) <= size) marks.shift();
    return true;
  };

  return {
    latest: () => witnessed,
    lag: () => latestSize - (witnessed?.size ?? 0),
    lagSeconds: () => (marks[0] ? Math.max(0, (now() - marks[0].at) / 1000) : 0),
    async round() {
      const head = o.index.latestTreeHead();
      if (!head || head.treeSize === 0) return;
      if (head.treeSize > latestSize) {
        latestSize = head.treeSize;
        if (head.treeSize > (witnessed?.size ?? 0)) {
          marks.push({ size: head.treeSize, at: now() });
          // Dropping the second-oldest keeps the oldest (what the lag is now) exact.
          if (marks.length > MAX_MARKS) marks.splice(1, 1);
        }
      }
      const size = head.treeSize;
      const note = o.checkpointOf(head);
      const t = now();
      const due = o.witnesses.filter((w) => {
        const s = state.get(w.name);
        return s !== undefined && s.cosigned?.size !== size && s.retryAt <= t;
      });
      if (due.length === 0) return;
      await Promise.all(
        due.map(async (w) => {
          const s = state.get(w.name);
          if (!s) return;
          const line = await push(w, size, note).catch((err: unknown) => {
            o.logger.warn({ witness: w.name, err }, "witness unreachable; asked again after a backoff");
            return "";
          });
          if (line === "") {
            s.failures++;
            s.retryAt = now() + Math.min(maxRetryMs, retryMs * 2 ** (s.failures - 1));
            return;
          }
          // A cosignature of a policy witness that does not verify would refuse the whole note: keep it out.
          const alone = openCheckpoint(note + line, { logVkey: o.logVkey, policy: anyQuorum });
          if (!alone.ok) {
            o.logger.warn({ witness: w.name, problem: alone.problem }, "witness answered a bad cosignature");
            s.failures++;
            s.retryAt = now() + maxRetryMs;
            return;
          }
          s.failures = 0;
          s.retryAt = 0;
          s.cosigned = { size, line };
          publish(size, note);
        }),
      );
      if (witnessed?.size !== size)
        o.logger.debug({ tree_size: size }, "checkpoint not witnessed by the policy's quorum yet");
    },
  };
}

/** Lag warnings come at most this often while the lag stays over the threshold. */
const WARN_EVERY_MS = 600_000;

/**
 * Runs `w.round()` every `everyMs` (a round never overlaps the previous one) and raises the lag alert:
 * a warning log line, at most every 10 minutes, while the witnessed checkpoint is more than
 * `alertSeconds` behind the log's signed heads. `tick` runs a round now (or joins the one in flight);
 * `stop` ends the loop and waits for a round in flight.
 */
export function runWitnessing(
  w: Witnessing,
  o: { everyMs: number; alertSeconds: number; logger: Logger; now?: () => number },
): { tick(): Promise<void>; stop(): Promise<void> } {
  const now = o.now ?? Date.now;
  let warnedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;
  const tick = (): Promise<void> => {
    if (inFlight) return inFlight;
    inFlight = w
      .round()
      .catch((err: unknown) => o.logger.warn({ err }, "witnessing round failed"))
      .then(() => {
        const seconds = w.lagSeconds();
        if (seconds > o.alertSeconds && now() - warnedAt >= WARN_EVERY_MS) {
          warnedAt = now();
          o.logger.warn(
            { lag_seconds: Math.round(seconds), lag_entries: w.lag(), threshold_seconds: o.alertSeconds },
            `witnessing lags: the latest witnessed checkpoint is over ${o.alertSeconds} s behind the log's signed heads; check that the policy's witnesses are up and reachable (exchanges and signing go on)`,
          );
        } else if (seconds <= o.alertSeconds) warnedAt = Number.NEGATIVE_INFINITY;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
  const timer = setInterval(() => void tick(), o.everyMs);
  timer.unref();
  void tick();
  return {
    tick,
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
