/** Builds dist/ if it is missing or stale (see ensure-built.js). */
export function ensureBuilt(options?: { quiet?: boolean }): void;
/** Why dist/ must be built now, or undefined when it is current. */
export function staleness(): string | undefined;
export const ROOT: string;
export const DIST: string;
