// The types of chart-pick.js (a plain browser module, no build step) for the TypeScript that imports it: its tests.

export function pickLine(ys: readonly number[], shown: readonly boolean[], top: number, near: number): number;
