import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The review UI's files (broker/review/ui/), read once; they hold no data and are served without a token. */
export interface UiAssets {
  readonly html: string;
  readonly js: string;
  /** The browser's own Merkle checks, a module app.js imports (and the tests import on their own). */
  readonly merkleJs: string;
  readonly css: string;
}

const FILES = { html: "index.html", js: "app.js", merkleJs: "merkle.js", css: "app.css" } as const;

/**
 * Where the UI's files are, in order: beside this module (the TypeScript sources, run through tsx), then,
 * when this module runs compiled from `dist/broker/review/`, the sources' folder: `tsc` copies no
 * plain files, and the UI has nothing to compile, so `dist/` needs no copy of it.
 */
export function uiDirCandidates(moduleDir: string = import.meta.dirname): string[] {
  return [join(moduleDir, "ui"), resolve(moduleDir, "..", "..", "..", "broker", "review", "ui")];
}

let cached: UiAssets | undefined;

/**
 * The UI's files, read on first use (when the review app is created, so at start-up): a missing file
 * stops the process there with its path, rather than answering 500 to the first reviewer.
 */
export function loadUiAssets(from?: readonly string[]): UiAssets {
  if (cached && from === undefined) return cached;
  const dirs = from ?? uiDirCandidates();
  const dir = dirs.find((d) => existsSync(join(d, FILES.html)));
  if (dir === undefined)
    throw new Error(
      `review UI: ${FILES.html} not found in ${dirs.join(" or ")} (broker/review/ui/ in the sources)`,
    );
  const read = (name: string) => {
    const path = join(dir, name);
    if (!existsSync(path)) throw new Error(`review UI: ${path} is missing`);
    return readFileSync(path, "utf8");
  };
  const assets = {
    html: read(FILES.html),
    js: read(FILES.js),
    merkleJs: read(FILES.merkleJs),
    css: read(FILES.css),
  };
  if (from === undefined) cached = assets;
  return assets;
}
