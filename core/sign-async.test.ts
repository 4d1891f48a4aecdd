import { generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifyBatchedSignature } from "./batch-signature.js";
import {
  ed25519OffloadForTest,
  onSigningWorkerFailure,
  signBatched,
  signEd25519,
  verifyEd25519,
} from "./sign-async.js";

describe("Ed25519 off the event loop", () => {
  const a = generateKeyPairSync("ed25519");
  const b = generateKeyPairSync("ed25519");
  const data = (i: number) => Buffer.from(`xbus-test/v1\n${i}`);

  it("makes exactly crypto.sign's signatures, in batches, for several keys at once", async () => {
    const sigs = await Promise.all(
      Array.from({ length: 200 }, (_, i) => signEd25519(data(i), i % 2 ? a.privateKey : b.privateKey)),
    );
    sigs.forEach((s, i) => {
      expect(s.equals(sign(null, data(i), i % 2 ? a.privateKey : b.privateKey))).toBe(true);
      expect(verify(null, data(i), i % 2 ? a.publicKey : b.publicKey, s)).toBe(true);
    });
  });

  it("verifies good signatures and refuses another key's, altered bytes and junk", async () => {
    const s = sign(null, data(1), a.privateKey);
    const results = await Promise.all([
      verifyEd25519(data(1), a.publicKey, s),
      verifyEd25519(data(1), b.publicKey, s),
      verifyEd25519(data(2), a.publicKey, s),
      verifyEd25519(data(1), a.publicKey, Buffer.alloc(64)),
      verifyEd25519(data(1), a.publicKey, s.subarray(0, 63)),
      verifyEd25519(data(1), a.publicKey, Buffer.concat([s, Buffer.alloc(1)])),
    ]);
    expect(results).toEqual([true, false, false, false, false, false]);
  });

  it("rejects with a clear error when a signature cannot be made", async () => {
    await expect(signEd25519(data(1), a.publicKey)).rejects.toThrow(/Ed25519 sign failed/);
  });

  it("keeps answering, inline, after its worker dies", async () => {
    await signEd25519(data(0), a.privateKey); // the worker is up
    const failures: Error[] = [];
    onSigningWorkerFailure((cause) => failures.push(cause));
    const pending = Promise.all(Array.from({ length: 20 }, (_, i) => signEd25519(data(i), a.privateKey)));
    await ed25519OffloadForTest.killWorkerForTest();
    const sigs = await pending;
    for (const [i, s] of sigs.entries()) expect(verify(null, data(i), a.publicKey, s)).toBe(true);
    const after = await signEd25519(data(99), a.privateKey);
    expect(verify(null, data(99), a.publicKey, after)).toBe(true);
    expect(await verifyEd25519(data(99), a.publicKey, after)).toBe(true);
    expect(failures.map((f) => f.message)).toEqual([expect.stringMatching(/signing worker exited/)]);
    // Batches are still formed and signed, inline.
    const batch = await Promise.all(Array.from({ length: 5 }, (_, i) => signBatched(data(i), a.privateKey)));
    expect(batch.map((s) => s.proof?.size)).toEqual([5, 5, 5, 5, 5]);
    for (const [i, s] of batch.entries()) expect(verifyBatchedSignature(data(i), a.publicKey, s)).toBe(true);
  });
});
