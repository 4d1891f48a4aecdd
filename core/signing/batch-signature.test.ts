import { generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { rootFromLeafHashes } from "../../verifier/index.js";
import { leafHash, rootFromInclusion, treeWithPaths } from "../log-format/index.js";
import {
  type BatchedSignature,
  batchedFromFields,
  batchedToFields,
  decodeBatchedSignature,
  encodeBatchedSignature,
  MAX_BATCH,
  verifyBatchedSignature,
} from "./batch-signature.js";
import { createRouteVerifier, signRoute } from "./route-signature.js";
import { createBatchVerifier, signBatched, signEd25519 } from "./sign-async.js";

const a = generateKeyPairSync("ed25519");
const b = generateKeyPairSync("ed25519");
const msg = (i: number) => Buffer.from(`xbus-test/v1\n${i}`);

describe("Merkle trees of a batch", () => {
  it("every leaf's audit path leads to the tree's root, for 1 to 33 leaves, and only from its own index", () => {
    for (let n = 1; n <= 33; n++) {
      const leaves = Array.from({ length: n }, (_, i) => leafHash(msg(i)));
      const { root, paths } = treeWithPaths(leaves);
      expect(root.equals(rootFromLeafHashes(leaves)), `root of ${n}`).toBe(true);
      leaves.forEach((leaf, i) => {
        expect(rootFromInclusion(i, n, leaf, paths[i] ?? [])?.equals(root), `leaf ${i}/${n}`).toBe(true);
        if (n > 1)
          expect(rootFromInclusion((i + 1) % n, n, leaf, paths[i] ?? [])?.equals(root)).not.toBe(true);
      });
      expect(rootFromInclusion(n, n, leaves[0] as Buffer, paths[0] ?? [])).toBeUndefined();
      expect(rootFromInclusion(0, n, leaves[0] as Buffer, [...(paths[0] ?? []), root])).toBeUndefined();
    }
  });
});

describe("batch signatures", () => {
  it("signatures asked for together share one Ed25519 signature; each verifies alone, and only for its message", async () => {
    const [batch, lone, plain] = await Promise.all([
      Promise.all(Array.from({ length: 10 }, (_, i) => signBatched(msg(i), a.privateKey))),
      signBatched(msg(100), b.privateKey),
      signEd25519(msg(200), a.privateKey),
    ]);
    expect(new Set(batch.map((s) => Buffer.from(s.signature).toString("hex"))).size).toBe(1);
    expect(batch.map((s) => [s.proof?.index, s.proof?.size])).toEqual(
      Array.from({ length: 10 }, (_, i) => [i, 10]),
    );
    batch.forEach((s, i) => {
      expect(verifyBatchedSignature(msg(i), a.publicKey, s)).toBe(true);
      expect(verifyBatchedSignature(msg(i + 1), a.publicKey, s)).toBe(false);
      expect(verifyBatchedSignature(msg(i), b.publicKey, s)).toBe(false);
    });
    // Alone in its batch, a signature is the plain one crypto.sign makes, as before batching.
    expect(lone.proof).toBeUndefined();
    expect(Buffer.from(lone.signature).equals(sign(null, msg(100), b.privateKey))).toBe(true);
    expect(verifyBatchedSignature(msg(100), b.publicKey, lone)).toBe(true);
    expect(plain.equals(sign(null, msg(200), a.privateKey))).toBe(true);

    const s = batch[3] as BatchedSignature;
    const proof = s.proof as NonNullable<BatchedSignature["proof"]>;
    const altered: BatchedSignature[] = [
      { ...s, proof: { ...proof, index: 4 } },
      { ...s, proof: { ...proof, size: 11 } },
      { ...s, proof: { ...proof, path: proof.path.slice(1) } },
      { ...s, proof: { ...proof, path: [Buffer.alloc(32), ...proof.path.slice(1)] } },
      { ...s, proof: undefined },
      { signature: Buffer.alloc(64), proof },
    ];
    for (const x of altered) expect(verifyBatchedSignature(msg(3), a.publicKey, x)).toBe(false);
  });

  it(`splits more than ${MAX_BATCH} at once into batches of at most ${MAX_BATCH}`, async () => {
    const n = 2 * MAX_BATCH + 5;
    const sigs = await Promise.all(Array.from({ length: n }, (_, i) => signBatched(msg(i), a.privateKey)));
    expect(Math.max(...sigs.map((s) => s.proof?.size ?? 1))).toBe(MAX_BATCH);
    expect(sigs.every((s, i) => verifyBatchedSignature(msg(i), a.publicKey, s))).toBe(true);
  });

  it("the compact header form and the protobuf fields carry a signature unchanged", async () => {
    const [x, y] = await Promise.all([signBatched(msg(1), a.privateKey), signBatched(msg(2), a.privateKey)]);
    for (const s of [x, y, { signature: sign(null, msg(3), a.privateKey) }] as BatchedSignature[]) {
      const back = decodeBatchedSignature(encodeBatchedSignature(s));
      expect(back && Buffer.from(back.signature).equals(Buffer.from(s.signature))).toBe(true);
      expect(back?.proof?.index).toBe(s.proof?.index);
      expect(back?.proof?.size).toBe(s.proof?.size);
      expect(batchedFromFields(batchedToFields(s))).toEqual(s.proof ? s : { signature: s.signature });
    }
    for (const junk of [0, 1, 63, 65, 67, 69, 68 + 32 * 17])
      expect(decodeBatchedSignature(Buffer.alloc(junk)), `${junk} bytes`).toBeUndefined();
  });

  it("a verifier checks each batch root once and never lets a cached root pass for another message", async () => {
    const verify = createBatchVerifier([b.publicKey, a.publicKey]);
    const sigs = await Promise.all(Array.from({ length: 8 }, (_, i) => signBatched(msg(i), a.privateKey)));
    expect(await Promise.all(sigs.map((s, i) => verify(msg(i), s)))).toEqual(Array(8).fill(true));
    // The root is cached now: the same signature and proof with other bytes lead to another root.
    expect(await verify(msg(99), sigs[0] as BatchedSignature)).toBe(false);
    expect(await verify(msg(1), sigs[0] as BatchedSignature)).toBe(false);
    expect(await createBatchVerifier([b.publicKey])(msg(0), sigs[0] as BatchedSignature)).toBe(false);
    expect(await verify(msg(5), { signature: sign(null, msg(5), a.privateKey) })).toBe(true);
  });

  it("route signatures: a batch of routes verifies at the connector; a route changed in flight does not", async () => {
    const input = (i: number) => ({
      exchangeId: `01930000-0000-7000-8000-00000000000${i}`,
      subject: "xbus.svc.dcrc.citizen-record",
      deadlineMs: 1_900_000_000_000,
      body: msg(i),
    });
    const headers = await Promise.all(Array.from({ length: 6 }, (_, i) => signRoute(a.privateKey, input(i))));
    expect(decodeBatchedSignature(Buffer.from(headers[0] ?? "", "base64"))?.proof?.size).toBe(6);
    const verifyRoute = createRouteVerifier([a.publicKey]);
    expect(await Promise.all(headers.map((h, i) => verifyRoute(input(i), h)))).toEqual(Array(6).fill(true));
    expect(await verifyRoute({ ...input(2), deadlineMs: 1_900_000_000_001 }, headers[2] ?? "")).toBe(false);
    expect(await verifyRoute(input(2), headers[3] ?? "")).toBe(false);
    expect(await verifyRoute(input(2), "not base64 at all!")).toBe(false);
    expect(await verifyRoute(input(2), "A".repeat(801))).toBe(false);
  });
});
