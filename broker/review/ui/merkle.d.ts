// The types of merkle.js (a plain browser module, no build step) for the TypeScript that imports it: its tests.

export function sha256(bytes: Uint8Array): Promise<Uint8Array>;
export function leafHash(leaf: Uint8Array): Promise<Uint8Array>;
export function nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array>;
export function hash32(hex: unknown): Uint8Array | undefined;
export function toHex(bytes: Uint8Array): string;
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean;
export function rootFromInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  path: readonly Uint8Array[],
): Promise<Uint8Array | undefined>;
export function rootsFromConsistency(
  first: number,
  second: number,
  firstRoot: Uint8Array,
  proof: readonly Uint8Array[],
): Promise<{ first: Uint8Array; second: Uint8Array } | undefined>;
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  proof: readonly Uint8Array[],
): Promise<boolean>;
