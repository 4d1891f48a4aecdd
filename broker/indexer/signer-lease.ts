import type { KV } from "@nats-io/kv";
import { isWrongLastSequence } from "./head-lock.js";

const LEASE_KEY = "lease";

/**
 * Which log-service instance signs: a KV key (`lease` beside the last head) that the active
 * instance rewrites every round by compare-and-swap. A standby watches its revision on its own
 * monotonic clock, never the holder's timestamp (clocks differ between machines): a revision it
 * has seen unchanged for `leaseMs` has lapsed, and it takes the key over by compare-and-swap, so of
 * two standbys one wins. The lease only keeps one signer busy at a time; that no head forks the log
 * is the head lock's compare-and-swap (head-lock.ts), which holds even when two instances both
 * believe they hold the lease (a paused holder that wakes up).
 */
export interface SignerLease {
  /** Renews the lease when held, takes it when free or lapsed; whether this instance holds it now. */
  hold(): Promise<boolean>;
  /** Gives the lease up (a clean stop), so a standby need not wait for it to lapse. */
  release(): Promise<void>;
  /** Marks the lease lost (a head published by another signer): the next hold() starts from what the key says. */
  lost(): void;
}

export function signerLease(o: {
  kv: KV;
  /** This instance, as the key names its holder. */
  holder: string;
  leaseMs: number;
  now?: () => number;
}): SignerLease {
  const now = o.now ?? (() => performance.now());
  let seen: { revision: number; at: number } | undefined;
  let held: { revision: number; at: number } | undefined;
  const value = () => JSON.stringify({ holder: o.holder, renewed_at: Date.now() });
  const cas = async (previous: number | undefined): Promise<boolean> => {
    try {
      const revision =
        previous === undefined
          ? await o.kv.create(LEASE_KEY, value())
          : await o.kv.update(LEASE_KEY, value(), previous);
      held = { revision, at: now() };
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) {
        held = undefined;
        return false;
      }
      throw err;
    }
  };
  return {
    async hold() {
      const t = now();
      const e = await o.kv.get(LEASE_KEY);
      if (e?.operation !== "PUT") return cas(e?.revision);
      let holder: unknown;
      try {
        holder = (JSON.parse(e.string()) as { holder?: unknown }).holder;
      } catch {
        holder = undefined;
      }
      // Ours, and renewed in time by us: renew it. A lease of ours that lapsed is taken like anyone's.
      if (holder === o.holder && held?.revision === e.revision && t - held.at < o.leaseMs)
        return cas(e.revision);
      held = undefined;
      if (seen?.revision !== e.revision) {
        seen = { revision: e.revision, at: t };
        return false;
      }
      if (t - seen.at < o.leaseMs) return false;
      return cas(e.revision);
    },
    async release() {
      if (!held) return;
      const revision = held.revision;
      held = undefined;
      // Deleted only if still ours; a standby finds the key free at its next round.
      await o.kv.delete(LEASE_KEY, { previousSeq: revision }).catch(() => {});
    },
    lost() {
      held = undefined;
    },
  };
}
