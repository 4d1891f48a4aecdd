import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { leafHash as serverLeafHash } from "../../../core/log-format/index.js";
import { MerkleStore } from "../../indexer/merkle-store.js";
import {
  hash32,
  leafHash,
  nodeHash,
  rootFromInclusion,
  rootsFromConsistency,
  toHex,
  verifyConsistency,
} from "./merkle.js";

// The browser's own Merkle checks (merkle.js, run here on Node's WebCrypto) against the proofs the
// server's own Merkle code makes: the indexer's store, over the same leaves.

const SIZE = 300;
const leaves = Array.from({ length: SIZE }, (_, i) => Buffer.from(`leaf-${i}`));
const store = new MerkleStore(new Database(":memory:"));
for (const l of leaves) store.append(serverLeafHash(l));

/** Every size up to 40, and each power of two up to 256 with its neighbours. */
const SIZES = [
  ...new Set([
    ...Array.from({ length: 40 }, (_, i) => i + 1),
    ...[64, 128, 256].flatMap((p) => [p - 1, p, p + 1]),
    SIZE,
  ]),
].sort((a, b) => a - b);
const PAIRS = SIZES.flatMap((n) => SIZES.filter((m) => m <= n).map((m) => [m, n] as const));

const root = (n: number) => new Uint8Array(store.root(n));
const proof = (m: number, n: number) => store.consistencyProof(m, n).map((h) => new Uint8Array(h));
/** `bytes` with one bit flipped. */
const flipped = (bytes: Uint8Array) => {
  const b = new Uint8Array(bytes);
  b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 1;
  return b;
};

describe("the UI's consistency check (RFC 9162 §2.1.4.2) against the server's proofs", () => {
  it(`accepts the server's proof for each of ${PAIRS.length} pairs of sizes, M = N, M = 1 and powers of two among them`, async () => {
    expect(PAIRS).toEqual(
      expect.arrayContaining([
        [1, 1],
        [1, 2],
        [1, SIZE],
        [2, 4],
        [64, 128],
        [128, 256],
        [256, 256],
        [255, 257],
      ]),
    );
    for (const [m, n] of PAIRS)
      expect(await verifyConsistency(m, n, root(m), root(n), proof(m, n)), `${m} → ${n}`).toBe(true);
  });

  it("gives back the roots themselves, so a failure can say which one does not match", async () => {
    const roots = await rootsFromConsistency(7, 19, root(7), proof(7, 19));
    expect(roots && toHex(roots.first)).toBe(toHex(root(7)));
    expect(roots && toHex(roots.second)).toBe(toHex(root(19)));
  });

  it("refuses the proof with any one of its hashes tampered, one hash dropped or one added", async () => {
    for (const [m, n] of PAIRS) {
      if (m === n) continue;
      const p = proof(m, n);
      for (let i = 0; i < p.length; i++) {
        const tampered = p.map((h, j) => (j === i ? flipped(h) : h));
        expect(await verifyConsistency(m, n, root(m), root(n), tampered), `${m} → ${n}, hash ${i}`).toBe(
          false,
        );
      }
      expect(await verifyConsistency(m, n, root(m), root(n), p.slice(0, -1)), `${m} → ${n}, short`).toBe(
        false,
      );
      expect(await verifyConsistency(m, n, root(m), root(n), [...p, root(m)]), `${m} → ${n}, long`).toBe(
        false,
      );
    }
  });

  it("refuses a first or second root that is not the tree's, and a proof for other sizes", async () => {
    for (const [m, n] of PAIRS) {
      expect(
        await verifyConsistency(m, n, flipped(root(m)), root(n), proof(m, n)),
        `${m} → ${n}, first`,
      ).toBe(false);
      expect(
        await verifyConsistency(m, n, root(m), flipped(root(n)), proof(m, n)),
        `${m} → ${n}, second`,
      ).toBe(false);
      if (n < SIZE)
        expect(
          await verifyConsistency(m, n + 1, root(m), root(n + 1), proof(m, n)),
          `${m} → ${n} as ${n + 1}`,
        ).toBe(false);
    }
  });

  it("takes equal sizes only with an empty proof and equal roots; refuses 0, a shrinking tree and an empty proof", async () => {
    expect(await verifyConsistency(5, 5, root(5), root(5), [])).toBe(true);
    expect(await verifyConsistency(5, 5, root(5), root(6), [])).toBe(false);
    expect(await verifyConsistency(5, 5, root(5), root(5), [root(5)])).toBe(false);
    expect(await verifyConsistency(0, 5, root(5), root(5), proof(1, 5))).toBe(false);
    expect(await verifyConsistency(6, 5, root(6), root(5), proof(5, 6))).toBe(false);
    expect(await verifyConsistency(3, 5, root(3), root(5), [])).toBe(false);
    expect(await verifyConsistency(2 ** 53, 2 ** 53 + 2, root(3), root(5), proof(3, 5))).toBe(false);
  });
});

describe("the UI's inclusion check (RFC 9162 §2.1.3.2) against the server's proofs", () => {
  it("leads every leaf's audit path to the server's root, and no tampered path there", async () => {
    for (const n of SIZES.filter((s) => s <= 40 || s === 64 || s === 129)) {
      for (let i = 0; i < n; i++) {
        const path = store.inclusionProof(i, n).map((h) => new Uint8Array(h));
        const leaf = await leafHash(leaves[i] as Buffer);
        expect(toHex((await rootFromInclusion(i, n, leaf, path)) ?? new Uint8Array()), `${i} of ${n}`).toBe(
          toHex(root(n)),
        );
        if (path.length > 0) {
          const bad = await rootFromInclusion(i, n, leaf, [flipped(path[0] as Uint8Array), ...path.slice(1)]);
          expect(bad && toHex(bad)).not.toBe(toHex(root(n)));
        }
      }
    }
  });

  it("keeps indexes and sizes past 2^31 right (halved by division, not a 32-bit shift)", async () => {
    const [a, l] = [root(8), root(9)];
    const parent = new Uint8Array(await nodeHash(a, l));
    // The last leaf of a tree of 2^33 + 1: its path is the root of the first 2^33 leaves.
    expect(toHex((await rootFromInclusion(2 ** 33, 2 ** 33 + 1, l, [a])) ?? new Uint8Array())).toBe(
      toHex(parent),
    );
    expect(await verifyConsistency(2 ** 33, 2 ** 33 + 1, a, parent, [l])).toBe(true);
    expect(await verifyConsistency(2 ** 33, 2 ** 33 + 1, a, parent, [a])).toBe(false);
  });

  it("reads only 64 lowercase hex digits as a hash", () => {
    expect(hash32("ab".repeat(32))).toHaveLength(32);
    expect(hash32("AB".repeat(32))).toBeUndefined();
    expect(hash32("ab".repeat(31))).toBeUndefined();
    expect(hash32(42)).toBeUndefined();
  });
});
