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
  /** Default the global fetch (tests pass a Hono app's request). */
  fetch?: (url: string, init: { method: "POST"; body: string }) => Promise<Response>;
}

export interface Witnessing extends CheckpointSource {
  /** Pushes the latest checkpoint to every witness once; never throws. */
  round(): Promise<void>;
  /** Sizes the latest checkpoint is ahead of the witnessed one (0 when witnessed). */
  lag(): number;
}

/**
 * Pushes the log's checkpoints to its witnesses (C2SP tlog-witness add-checkpoint, with a consistency
 * proof from the size each witness last cosigned) and serves the newest checkpoint whose cosignatures
 * meet the policy's quorum. A witness that answers 409 names its size, and the next request starts
 * from there; one that is down is retried next round. Exchanges never wait for any of this.
 */
export function witnessing(o: WitnessingOptions): Witnessing {
  const post = o.fetch ?? ((url, init) => fetch(url, init));
  const known = new Map<string, number>(o.witnesses.map((w) => [w.name, 0]));
  let witnessed: { size: number; note: string } | undefined;
  let latestSize = 0;
  const proof = (a: number, b: number) =>
    a === 0 || a >= b ? [] : o.index.tree.consistencyProof(a, b).map((h) => h.toString("base64"));

  const push = async (w: { name: string; url: string }, size: number, note: string): Promise<string> => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const old = known.get(w.name) ?? 0;
      if (old > size) return "";
      const body = [`old ${old}`, ...proof(old, size), "", note].join("\n");
      const res = await post(`${w.url}/add-checkpoint`, { method: "POST", body });
      const text = await res.text();
      if (res.status === 200) {
        known.set(w.name, size);
        return text;
      }
      if (res.status === 409 && /^(0|[1-9][0-9]*)\n$/.test(text)) {
        known.set(w.name, Number(text.trim()));
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

  return {
    latest: () => witnessed,
    lag: () => latestSize - (witnessed?.size ?? 0),
    async round() {
      const head = o.index.latestTreeHead();
      if (!head || head.treeSize === 0 || head.treeSize === witnessed?.size) return;
      latestSize = head.treeSize;
      const note = o.checkpointOf(head);
      const lines = await Promise.all(
        o.witnesses.map((w) =>
          push(w, head.treeSize, note).catch((err: unknown) => {
            o.logger.warn({ witness: w.name, err }, "witness unreachable; retried next round");
            return "";
          }),
        ),
      );
      const cosigned = note + lines.join("");
      const opened = openCheckpoint(cosigned, { logVkey: o.logVkey, policy: o.policy });
      if (opened.ok) witnessed = { size: head.treeSize, note: cosigned };
      else
        o.logger.debug({ tree_size: head.treeSize, problem: opened.problem }, "checkpoint not witnessed yet");
    },
  };
}
