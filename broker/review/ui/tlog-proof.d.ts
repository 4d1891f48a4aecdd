// The types of tlog-proof.js (a plain browser module, no build step) for the TypeScript that imports it: its tests.

export interface TlogProofCheck {
  ok: boolean;
  detail: string;
  size?: number;
  cosigned: { name: string; time: number }[];
}
export function checkTlogProof(
  text: string,
  trust: { index: number; leaf: Uint8Array; logId: string; logKey: Uint8Array; policy?: string | undefined },
): Promise<TlogProofCheck>;
export function parsePolicy(text: string): Promise<{
  witnesses: Map<string, { name: string; id: string; key: Uint8Array }>;
  quorum: string;
  satisfied(have: Set<string>): boolean;
}>;
