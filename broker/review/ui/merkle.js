// @ts-check
// The review UI's own Merkle checks (RFC 9162), with WebCrypto SHA-256 and nothing else: on purpose a second
// implementation, apart from the server's (core/merkle-hash.ts, broker/indexer/merkle-store.ts), so a fault or
// a rewrite there cannot also make the browser agree. Imported by app.js, and by merkle.test.ts, which checks
// these functions against proofs the server's own Merkle code makes.
//
// Sizes and indexes are halved by division, not `>>`, so they stay right past 2^31.

/** @param {Uint8Array<ArrayBuffer>} bytes WebCrypto takes no shared memory */
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** SHA-256(0x00 ‖ leaf). @param {Uint8Array} leaf */
export async function leafHash(leaf) {
  const b = new Uint8Array(1 + leaf.length);
  b[0] = 0x00;
  b.set(leaf, 1);
  return sha256(b);
}

/** SHA-256(0x01 ‖ left ‖ right). @param {Uint8Array} left @param {Uint8Array} right */
export async function nodeHash(left, right) {
  const b = new Uint8Array(1 + left.length + right.length);
  b[0] = 0x01;
  b.set(left, 1);
  b.set(right, 1 + left.length);
  return sha256(b);
}

/** @param {unknown} hex @returns {Uint8Array | undefined} 32 bytes, or undefined if not 64 lowercase hex digits */
export function hash32(hex) {
  if (typeof hex !== "string" || !/^[0-9a-f]{64}$/.test(hex)) return undefined;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** @param {Uint8Array} bytes */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Halves `n` as a right shift by one would, for any safe integer. @param {number} n */
const half = (n) => Math.floor(n / 2);

/**
 * The walk both proof checks share (RFC 9162 §2.1.3.2 step 3, §2.1.4.2 step 6), from the node numbers `fn`
 * and `sn`: for each of `count` proof hashes, whether it stands left of the hash built so far (true) or right
 * of it (false); undefined when `count` hashes cannot climb from there to the root (too few or too many).
 * @param {number} fn @param {number} sn @param {number} count @returns {boolean[] | undefined}
 */
function sides(fn, sn, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    if (sn === 0) return undefined;
    const left = fn % 2 === 1 || fn === sn;
    if (left)
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    out.push(left);
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? out : undefined;
}

/**
 * RFC 9162 §2.1.3.2: the root that `path` leads to from leaf `index` (hash `leaf`) of a tree of `size`
 * leaves; undefined when the path cannot belong to such a tree (too short, too long, index out of range).
 * @param {number} index @param {number} size @param {Uint8Array} leaf @param {Uint8Array[]} path
 * @returns {Promise<Uint8Array | undefined>}
 */
export async function rootFromInclusion(index, size, leaf, path) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index >= size || index < 0)
    return undefined;
  const left = sides(index, size - 1, path.length);
  if (!left) return undefined;
  let r = leaf;
  for (const [i, p] of path.entries()) r = left[i] ? await nodeHash(p, r) : await nodeHash(r, p);
  return r;
}

/**
 * RFC 9162 §2.1.4.2, step by step: the roots of the trees of `first` and of `second` leaves that a
 * consistency proof leads to, given the root of the first (which the proof leaves out when `first` is a
 * power of two); undefined when the proof cannot be one between trees of these sizes. The caller compares
 * each root with the one it holds (step 7), so it can say which of the two does not match.
 *
 * Equal sizes take an empty proof (the two roots must then be the same); 0 < first ≤ second otherwise.
 * @param {number} first @param {number} second @param {Uint8Array} firstRoot @param {Uint8Array[]} proof
 * @returns {Promise<{first: Uint8Array, second: Uint8Array} | undefined>}
 */
export async function rootsFromConsistency(first, second, firstRoot, proof) {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 1 || first > second)
    return undefined;
  if (first === second) return proof.length === 0 ? { first: firstRoot, second: firstRoot } : undefined;
  // 1. An empty proof proves nothing between different sizes.
  if (proof.length === 0) return undefined;
  // 2. When first is a power of two, its root is a node of the second tree the proof does not repeat.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : proof;
  // 3., 4.
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = half(fn);
    sn = half(sn);
  }
  // 5., 6.: the first tree's root is built from the hashes left of it, the second's from all.
  const [start, ...rest] = path;
  const left = sides(fn, sn, rest.length);
  if (!start || !left) return undefined;
  let fr = start;
  let sr = start;
  for (const [i, c] of rest.entries()) {
    if (left[i]) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
    } else {
      sr = await nodeHash(sr, c);
    }
  }
  return { first: fr, second: sr };
}

/**
 * Whether `proof` shows that the tree of `second` leaves with root `secondRoot` extends the tree of
 * `first` leaves with root `firstRoot` (RFC 9162 §2.1.4.2).
 * @param {number} first @param {number} second @param {Uint8Array} firstRoot @param {Uint8Array} secondRoot
 * @param {Uint8Array[]} proof @returns {Promise<boolean>}
 */
export async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
  const roots = await rootsFromConsistency(first, second, firstRoot, proof);
  return roots !== undefined && sameBytes(roots.first, firstRoot) && sameBytes(roots.second, secondRoot);
}

/** @param {number} n a positive safe integer */
function isPowerOfTwo(n) {
  let m = n;
  while (m % 2 === 0) m = half(m);
  return m === 1;
}

/** @param {Uint8Array} a @param {Uint8Array} b */
export function sameBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
