import { type KeyObject, sign, verify } from "node:crypto";
import { leafHash, treeWithPaths } from "../log-format/index.js";
import {
  type BatchedSignature,
  type BatchProof,
  batchRootSignedBytes,
  batchSignedBytes,
  MAX_BATCH,
} from "./batch-signature.js";

/*
 * Ed25519 for the exchange path (route, reply and receipt signatures, route
 * checks), settled once per event-loop turn: what is asked during a turn is
 * done together at its end (setImmediate). Signatures asked through
 * signBatched of one key at that moment become one Ed25519 signature over the
 * Merkle root of their messages (core/signing/batch-signature.ts), so a busy broker
 * signs once per turn and key rather than once per exchange, and a connector
 * checks each batch root once (createBatchVerifier).
 *
 * The work stays on the event loop: a batch costs one signature (~35 µs) and
 * its tree's hashes. It used to go to a worker thread, which paid when every
 * exchange needed three signatures and a verification of its own (~175 µs).
 * Once batches existed the hand-off cost more than it saved: a message each
 * way and a thread woken per batch, and a further event-loop turn of latency
 * at each of the four signature steps of an exchange. Measured with the bench
 * against the worker in two A/Bs of three interleaved runs each (512 B, 16 /
 * 64 / 256 in flight): requests/s +15–18 / +11–12 / +7–10% in process and
 * +17–21 / +11 / +1–25% bridged; CPU per exchange −15–17 / −8–13 / −8–14% in
 * process and −17 / −3–9 / −6–15% bridged; a thread and its V8 isolate fewer.
 *
 * The signatures and answers are exactly crypto.sign's and crypto.verify's.
 */

interface Pending {
  kind: "sign" | "verify";
  data: Uint8Array;
  /** For verify: the 64-byte signature. */
  signature: Uint8Array | undefined;
  key: KeyObject;
  resolve: (v: Buffer | boolean) => void;
  reject: (err: unknown) => void;
  /** Set for a signature that may be made in a batch (core/signing/batch-signature.ts): settles it with a proof. */
  inBatch?: (signature: Buffer, proof: BatchProof) => void;
}

let queue: Pending[] = [];
let scheduled = false;

function enqueue(p: Pending): void {
  queue.push(p);
  if (scheduled) return;
  scheduled = true;
  setImmediate(flush);
}

function flush(): void {
  scheduled = false;
  const turn = coalesce(queue);
  queue = [];
  for (const p of turn) settle(p);
}

function settle(p: Pending): void {
  let result: Buffer | boolean;
  try {
    result =
      p.kind === "sign" ? sign(null, p.data, p.key) : verify(null, p.data, p.key, p.signature as Uint8Array);
  } catch (err) {
    p.reject(new Error(`Ed25519 ${p.kind} failed: ${err instanceof Error ? err.message : String(err)}`));
    return;
  }
  p.resolve(result);
}

/**
 * Batchable signatures of one key become one signature over the root of a
 * Merkle tree of their messages (up to MAX_BATCH each); a lone one stays a
 * plain signature of its message.
 */
function coalesce(asked: Pending[]): Pending[] {
  let groups: Map<KeyObject, Pending[]> | undefined;
  const out: Pending[] = [];
  for (const p of asked) {
    if (!p.inBatch) {
      out.push(p);
      continue;
    }
    groups ??= new Map();
    const g = groups.get(p.key);
    if (g) g.push(p);
    else groups.set(p.key, [p]);
  }
  for (const members of groups?.values() ?? []) {
    for (let from = 0; from < members.length; from += MAX_BATCH) {
      const chunk = members.slice(from, from + MAX_BATCH);
      const first = chunk[0] as Pending;
      if (chunk.length === 1) {
        out.push(first);
        continue;
      }
      const { root, paths } = treeWithPaths(chunk.map((m) => leafHash(m.data)));
      out.push({
        kind: "sign",
        data: batchRootSignedBytes(root, chunk.length),
        signature: undefined,
        key: first.key,
        resolve: (signature) => {
          chunk.forEach((m, index) => {
            m.inBatch?.(signature as Buffer, { index, size: chunk.length, path: paths[index] ?? [] });
          });
        },
        reject: (err) => {
          for (const m of chunk) m.reject(err);
        },
      });
    }
  }
  return out;
}

function ask(kind: "sign" | "verify", data: Uint8Array, key: KeyObject, signature?: Uint8Array) {
  return new Promise<Buffer | boolean>((resolve, reject) =>
    enqueue({ kind, data, signature, key, resolve, reject }),
  );
}

/** Ed25519 (no digest) signature of `data`, made at the end of this event-loop turn. */
export function signEd25519(data: Uint8Array, key: KeyObject): Promise<Buffer> {
  return ask("sign", data, key) as Promise<Buffer>;
}

/** True when `signature` is `key`'s Ed25519 signature over `data`; checked at the end of this event-loop turn. */
export function verifyEd25519(data: Uint8Array, key: KeyObject, signature: Uint8Array): Promise<boolean> {
  // An Ed25519 signature is 64 bytes; anything else verifies false, as crypto.verify says.
  if (signature.length !== 64) return Promise.resolve(false);
  return ask("verify", data, key, signature) as Promise<boolean>;
}

/**
 * An Ed25519 signature of `data` that, under load, covers a batch of messages
 * signed by `key` at the same moment (core/signing/batch-signature.ts); alone, it is
 * the plain signature signEd25519 makes.
 */
export function signBatched(data: Uint8Array, key: KeyObject): Promise<BatchedSignature> {
  return new Promise((resolve, reject) =>
    enqueue({
      kind: "sign",
      data,
      signature: undefined,
      key,
      resolve: (signature) => resolve({ signature: signature as Buffer }),
      reject,
      inBatch: (signature, proof) => resolve({ signature, proof }),
    }),
  );
}

/**
 * Checks batch signatures made by any of `keys`, each
 * batch root once: the messages of one batch arrive together, and the first
 * one's check answers for the rest (a bounded cache; a failed check is not kept).
 */
export function createBatchVerifier(
  keys: readonly KeyObject[],
  capacity = 4096,
): (message: Uint8Array, s: BatchedSignature) => Promise<boolean> {
  const roots = new Map<string, Promise<boolean>>();
  const byAnyKey = async (signed: Uint8Array, signature: Uint8Array) => {
    for (const k of keys) if (await verifyEd25519(signed, k, signature)) return true;
    return false;
  };
  return (message, s) => {
    const signed = batchSignedBytes(message, s);
    if (!signed) return Promise.resolve(false);
    if (!s.proof) return byAnyKey(signed, s.signature);
    const id = `${Buffer.from(s.signature).toString("base64")} ${signed.toString("latin1")}`;
    let result = roots.get(id);
    if (!result) {
      result = byAnyKey(signed, s.signature);
      roots.set(id, result);
      if (roots.size > capacity) roots.delete(roots.keys().next().value as string);
      result.then(
        (ok) => ok || roots.delete(id),
        () => roots.delete(id),
      );
    }
    return result;
  };
}
