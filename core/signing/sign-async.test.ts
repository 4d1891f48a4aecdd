import { generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifyBatchedSignature } from "./batch-signature.js";
import { createBatchVerifier, signBatched, signEd25519, verifyEd25519 } from "./sign-async.js";

describe("Ed25519 settled once per event-loop turn", () => {
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

  it("signs what one key is asked in a turn as one batch, and what comes in a later turn apart", async () => {
    const first = Promise.all(Array.from({ length: 5 }, (_, i) => signBatched(data(i), a.privateKey)));
    const other = signBatched(data(7), b.privateKey); // another key: never in a's batch
    const batch = await first;
    expect(batch.map((s) => s.proof?.size)).toEqual([5, 5, 5, 5, 5]);
    expect(new Set(batch.map((s) => Buffer.from(s.signature).toString("hex"))).size).toBe(1);
    for (const [i, s] of batch.entries()) expect(verifyBatchedSignature(data(i), a.publicKey, s)).toBe(true);
    const alone = await other;
    expect(alone.proof).toBeUndefined();
    expect(verify(null, data(7), b.publicKey, alone.signature)).toBe(true);
    // Asked after the first batch was settled: a batch of its own.
    const later = await Promise.all([signBatched(data(8), a.privateKey), signBatched(data(9), a.privateKey)]);
    expect(later.map((s) => s.proof?.size)).toEqual([2, 2]);
    expect(Buffer.from(later[0]?.signature ?? []).equals(Buffer.from(batch[0]?.signature ?? []))).toBe(false);
  });

  it("settles a failed operation alone: the rest of its turn is signed and verified", async () => {
    const s = sign(null, data(3), a.privateKey);
    const [good, bad, checked] = await Promise.allSettled([
      signEd25519(data(1), a.privateKey),
      signEd25519(data(2), a.publicKey), // a public key cannot sign
      verifyEd25519(data(3), a.publicKey, s),
    ]);
    expect(good.status === "fulfilled" && verify(null, data(1), a.publicKey, good.value)).toBe(true);
    expect(bad.status === "rejected" && String(bad.reason)).toMatch(/Ed25519 sign failed/);
    expect(checked).toEqual({ status: "fulfilled", value: true });
  });

  it("checks each batch root once for all its messages, and refuses a message swapped into the batch", async () => {
    const batch = await Promise.all(Array.from({ length: 4 }, (_, i) => signBatched(data(i), a.privateKey)));
    const check = createBatchVerifier([b.publicKey, a.publicKey]);
    expect(await Promise.all(batch.map((s, i) => check(data(i), s)))).toEqual([true, true, true, true]);
    expect(await check(data(9), batch[0] as (typeof batch)[0])).toBe(false);
    expect(await createBatchVerifier([b.publicKey])(data(0), batch[0] as (typeof batch)[0])).toBe(false);
  });
});
