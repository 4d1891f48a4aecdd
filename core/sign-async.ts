import { type KeyObject, sign, verify } from "node:crypto";
import { Worker } from "node:worker_threads";
import {
  type BatchedSignature,
  type BatchProof,
  batchRootSignedBytes,
  batchSignedBytes,
  MAX_BATCH,
} from "./batch-signature.js";
import { leafHash, treeWithPaths } from "./merkle-hash.js";

/*
 * Ed25519 signing and verification off the event loop. Each exchange costs
 * three signatures and one verification (route, reply, receipt): ~175 µs of a
 * busy broker's only thread when done inline. libuv's pool (crypto.sign with a
 * callback) still spends ~18 µs of the event loop per signature setting the
 * job up, so the work goes to one worker thread instead, in batches: what is
 * asked while the worker is busy is posted as one message when it answers, and
 * the answers come back as one. The event loop then pays ~2 µs a signature.
 * Signatures asked through signBatched are also coalesced per key at that
 * moment: one Ed25519 signature over the Merkle root of the batch
 * (core/batch-signature.ts), so under load the worker signs once per batch.
 *
 * The worker's code is a string evaluated as plain JavaScript, so it loads the
 * same from the sources (tsx, vitest) and from dist/. If the worker ever dies,
 * what it had not answered and everything after is done inline: slower, never
 * lost. The bytes signed and the signatures are exactly those of crypto.sign.
 */

type OpInput =
  | { kind: "sign"; data: Uint8Array }
  | { kind: "verify"; data: Uint8Array; signature: Uint8Array };
type Op = OpInput & { key: number };

interface Pending {
  op: Op;
  keyObject: KeyObject;
  resolve: (v: Buffer | boolean) => void;
  reject: (err: unknown) => void;
  /** Set for a signature that may be made in a batch (core/batch-signature.ts): settles it with a proof. */
  inBatch?: (signature: Buffer, proof: BatchProof) => void;
}

/*
 * One message per batch, everything packed into one transferred buffer: a
 * Uint8Array made by Buffer.from(string) is a view of Node's shared 8 KB pool,
 * and structured clone would copy the whole pool for every operation.
 *   ops:   [kind (0 sign, 1 verify), key id, data start, data end, signature start] per operation
 *   bytes: the data (and, for verify, the 64-byte signature) of every operation
 * The answer: per operation a status (0 failed, 1 signed or verified true, 2 verified false) and
 * 64 bytes of signature.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { sign, verify } = require("node:crypto");
const keys = new Map();
parentPort.on("message", (m) => {
  if (m.type === "key") { keys.set(m.id, m.key); return; }
  if (m.type === "drop") { keys.delete(m.id); return; }
  const ops = m.ops;
  const bytes = new Uint8Array(m.bytes);
  const n = ops.length / 5;
  const status = new Uint8Array(n);
  const sigs = new Uint8Array(n * 64);
  const errors = [];
  for (let i = 0; i < n; i++) {
    const o = i * 5;
    try {
      const key = keys.get(ops[o + 1]);
      const data = bytes.subarray(ops[o + 2], ops[o + 3]);
      if (ops[o] === 0) {
        sigs.set(sign(null, data, key), i * 64);
        status[i] = 1;
      } else {
        status[i] = verify(null, data, key, bytes.subarray(ops[o + 4], ops[o + 4] + 64)) ? 1 : 2;
      }
    } catch (err) {
      errors.push([i, String((err && err.message) || err)]);
    }
  }
  parentPort.postMessage({ batch: m.batch, status, sigs, errors }, [status.buffer, sigs.buffer]);
});
`;

function inline(p: Pending): Buffer | boolean {
  return p.op.kind === "sign"
    ? sign(null, p.op.data, p.keyObject)
    : verify(null, p.op.data, p.keyObject, p.op.signature);
}

class Ed25519Offload {
  private worker: Worker | undefined;
  private dead = false;
  private readonly keyIds = new WeakMap<KeyObject, number>();
  /** A key the process no longer holds is dropped by the worker too (keys are few: a process's own and its brokers'). */
  private readonly forget = new FinalizationRegistry<number>((id) =>
    this.worker?.postMessage({ type: "drop", id }),
  );
  private nextKey = 1;
  private queue: Pending[] = [];
  private scheduled = false;
  private nextBatch = 1;
  private readonly inFlight = new Map<number, Pending[]>();
  readonly failureListeners = new Set<(cause: Error) => void>();

  submit(input: OpInput, keyObject: KeyObject): Promise<Buffer | boolean> {
    return new Promise((resolve, reject) => {
      // An Ed25519 signature is 64 bytes; anything else verifies false, as crypto.verify says.
      if (input.kind === "verify" && input.signature.length !== 64) return resolve(false);
      this.enqueue({ op: { ...input, key: 0 }, keyObject, resolve, reject });
    });
  }

  /** Queued for the next batch; with the worker gone, the batch is settled inline (still coalesced). */
  private enqueue(p: Pending): void {
    if (!this.dead) p.op.key = this.keyId(p.keyObject);
    this.queue.push(p);
    this.schedule();
  }

  /** A signature that may share one Ed25519 operation with others asked of the same key meanwhile. */
  submitBatchable(data: Uint8Array, keyObject: KeyObject): Promise<BatchedSignature> {
    return new Promise((resolve, reject) => {
      this.enqueue({
        op: { kind: "sign", data, key: 0 },
        keyObject,
        resolve: (signature) => resolve({ signature: signature as Buffer }),
        reject,
        inBatch: (signature, proof) => resolve({ signature, proof }),
      });
    });
  }

  /**
   * Batchable signatures of one key become one signature over the root of a
   * Merkle tree of their messages (up to MAX_BATCH each); a lone one stays a
   * plain signature of its message.
   */
  private coalesce(queue: Pending[]): Pending[] {
    let groups: Map<KeyObject, Pending[]> | undefined;
    const out: Pending[] = [];
    for (const p of queue) {
      if (!p.inBatch) {
        out.push(p);
        continue;
      }
      groups ??= new Map();
      const g = groups.get(p.keyObject);
      if (g) g.push(p);
      else groups.set(p.keyObject, [p]);
    }
    for (const members of groups?.values() ?? []) {
      for (let from = 0; from < members.length; from += MAX_BATCH) {
        const chunk = members.slice(from, from + MAX_BATCH);
        const first = chunk[0] as Pending;
        if (chunk.length === 1) {
          out.push(first);
          continue;
        }
        const { root, paths } = treeWithPaths(chunk.map((m) => leafHash(m.op.data)));
        out.push({
          op: { kind: "sign", data: batchRootSignedBytes(root, chunk.length), key: first.op.key },
          keyObject: first.keyObject,
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

  /**
   * One batch in flight at a time: while the worker signs one, new operations
   * queue, and the answer's arrival sends them all. Under load batches grow and
   * hand-offs stay few; when idle, an operation leaves at the end of this turn.
   */
  private schedule(): void {
    if (this.scheduled || this.inFlight.size > 0 || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref(); // never keeps a process alive on its own
    w.on(
      "message",
      (m: { batch: number; status: Uint8Array; sigs: Uint8Array; errors: [number, string][] }) => {
        const batch = this.inFlight.get(m.batch);
        if (!batch) return;
        this.inFlight.delete(m.batch);
        if (this.inFlight.size === 0) w.unref();
        const failed = new Map(m.errors);
        batch.forEach((p, i) => {
          const st = m.status[i];
          if (st === 0 || st === undefined)
            p.reject(new Error(`Ed25519 ${p.op.kind} failed: ${failed.get(i) ?? "no result"}`));
          else if (p.op.kind === "verify") p.resolve(st === 1);
          else p.resolve(Buffer.from(m.sigs.buffer, m.sigs.byteOffset + i * 64, 64));
        });
        this.schedule();
      },
    );
    const die = (cause: Error) => {
      if (this.dead) return;
      this.dead = true;
      this.worker = undefined;
      for (const listener of this.failureListeners) listener(cause);
      for (const batch of this.inFlight.values()) for (const p of batch) this.settleInline(p);
      this.inFlight.clear();
      this.schedule();
    };
    w.on("error", (err) => die(err));
    w.on("exit", (code) => die(new Error(`the signing worker exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  private keyId(key: KeyObject): number {
    let id = this.keyIds.get(key);
    if (id === undefined) {
      id = this.nextKey++;
      this.keyIds.set(key, id);
      this.forget.register(key, id);
      this.ensureWorker().postMessage({ type: "key", id, key });
    }
    return id;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.coalesce(this.queue);
    this.queue = [];
    if (batch.length === 0) return;
    if (this.dead || !this.worker) {
      for (const p of batch) this.settleInline(p);
      return;
    }
    const id = this.nextBatch++;
    this.inFlight.set(id, batch);
    let size = 0;
    for (const p of batch) size += p.op.data.length + (p.op.kind === "verify" ? 64 : 0);
    const bytes = new Uint8Array(size);
    const ops = new Uint32Array(batch.length * 5);
    let at = 0;
    batch.forEach((p, i) => {
      const o = i * 5;
      ops[o] = p.op.kind === "sign" ? 0 : 1;
      ops[o + 1] = p.op.key;
      ops[o + 2] = at;
      bytes.set(p.op.data, at);
      at += p.op.data.length;
      ops[o + 3] = at;
      if (p.op.kind === "verify") {
        ops[o + 4] = at;
        bytes.set(p.op.signature, at);
        at += 64;
      }
    });
    this.worker.ref(); // answers are owed: keep the process up until they come
    this.worker.postMessage({ type: "batch", batch: id, ops, bytes: bytes.buffer }, [
      bytes.buffer,
      ops.buffer,
    ]);
  }

  private settleInline(p: Pending): void {
    try {
      p.resolve(inline(p));
    } catch (err) {
      p.reject(err);
    }
  }

  /** For tests: ends the worker as a crash would. */
  async killWorkerForTest(): Promise<void> {
    await this.worker?.terminate();
  }
}

const offload = new Ed25519Offload();

/** Ed25519 (no digest) signature of `data`, made off the event loop. */
export async function signEd25519(data: Uint8Array, key: KeyObject): Promise<Buffer> {
  return (await offload.submit({ kind: "sign", data }, key)) as Buffer;
}

/** True when `signature` is `key`'s Ed25519 signature over `data`; checked off the event loop. */
export async function verifyEd25519(
  data: Uint8Array,
  key: KeyObject,
  signature: Uint8Array,
): Promise<boolean> {
  return (await offload.submit({ kind: "verify", data, signature }, key)) as boolean;
}

/**
 * An Ed25519 signature of `data` that, under load, covers a batch of messages
 * signed by `key` at the same moment (core/batch-signature.ts); alone, it is
 * the plain signature signEd25519 makes.
 */
export function signBatched(data: Uint8Array, key: KeyObject): Promise<BatchedSignature> {
  return offload.submitBatchable(data, key);
}

/**
 * Checks batch signatures made by any of `keys`, off the event loop, each
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

/**
 * Called once if the signing worker dies; signatures are made inline from then
 * on (slower, nothing lost). Processes log it: it should never happen.
 */
export function onSigningWorkerFailure(listener: (cause: Error) => void): () => void {
  offload.failureListeners.add(listener);
  return () => offload.failureListeners.delete(listener);
}

/** For tests only. */
export const ed25519OffloadForTest = offload;
