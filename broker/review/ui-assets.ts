import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

/** The review UI's files (broker/review/ui/), read once; they hold no data and are served without a token. */
export interface UiAssets {
  readonly html: string;
  readonly css: string;
  /** Each ES module of the page by its file name: `app.js`, the entry, and every module it imports. */
  readonly modules: Readonly<Record<string, string>>;
  /** Third-party files of the page by the name served under `/ui/vendor/` (VENDOR_FILES). */
  readonly vendor: Readonly<Record<string, string>>;
}

/**
 * Every file of the UI: a fixed list, so the server answers for these names and no other (no path from a
 * request ever reaches the file system). A module added to ui/ must be added here; a test checks that
 * every `.js` file there is, and every import of every module.
 */
export const UI_FILES = [
  "index.html",
  "app.js",
  "merkle.js",
  "app.css",
  "accesses-view.js",
  "alerts-view.js",
  "api.js",
  "base64.js",
  "consistency.js",
  "dom.js",
  "exchange-view.js",
  "exchanges-view.js",
  "inclusion.js",
  "pager.js",
  "signature.js",
  "tlog-proof.js",
  "token.js",
  "tree-head-view.js",
  "chart-pick.js",
  "charts-view.js",
] as const;

/**
 * The page's third-party files, served under `/ui/vendor/` by these names from the installed package
 * (package.json pins its version; README, "Dependencies"): uPlot's ES module and stylesheet, for the charts.
 * A fixed list too: the served name never reaches the file system.
 */
export const VENDOR_FILES = {
  "uplot.js": "uplot/dist/uPlot.esm.js",
  "uplot.css": "uplot/dist/uPlot.min.css",
} as const;

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
  const dir = dirs.find((d) => existsSync(join(d, "index.html")));
  if (dir === undefined)
    throw new Error(
      `review UI: index.html not found in ${dirs.join(" or ")} (broker/review/ui/ in the sources)`,
    );
  const files = new Map<string, string>();
  for (const name of UI_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) throw new Error(`review UI: ${path} is missing`);
    files.set(name, readFileSync(path, "utf8"));
  }
  const assets: UiAssets = {
    html: files.get("index.html") ?? "",
    css: files.get("app.css") ?? "",
    modules: Object.fromEntries([...files].filter(([name]) => name.endsWith(".js"))),
    vendor: loadVendorFiles(),
  };
  if (from === undefined) cached = assets;
  return assets;
}

/** VENDOR_FILES, each read from where Node resolves its package: a missing one stops start-up too. */
function loadVendorFiles(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(VENDOR_FILES)) {
    let path: string;
    try {
      path = require.resolve(spec);
    } catch {
      throw new Error(`review UI: ${spec} is not installed (npm install)`);
    }
    out[name] = readFileSync(path, "utf8");
  }
  return out;
}
