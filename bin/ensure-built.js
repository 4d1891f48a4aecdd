// Makes sure dist/ holds a build of the sources before `xbus` runs it: a deployment runs compiled
// JavaScript (`npm run build`, or a package built once), and in a checkout a command builds first
// when dist/ is missing or older than a source file, so `npx xbus` and `npm run dev` stay one step.
// Plain JavaScript on purpose: it runs before anything is compiled.
import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..");
export const DIST = join(ROOT, "dist");
const STAMP = join(DIST, ".built");
const LOCK = join(ROOT, ".xbus-build.lock");
/** What `tsconfig.build.json` compiles; a newer file in one of these means dist/ is stale. */
const SOURCES = [
  "proto/gen",
  "core",
  "certs",
  "policies",
  "adapters",
  "verifier",
  "witness",
  "broker",
  "stack",
  "cli",
  "bench",
  "faults",
];
const CONFIGS = ["tsconfig.json", "tsconfig.build.json", "package-lock.json"];

function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    let names;
    try {
      names = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of names) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.name.endsWith(".ts") && !d.name.endsWith(".test.ts"))
        newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const s of SOURCES) walk(join(ROOT, s));
  for (const c of CONFIGS)
    if (existsSync(join(ROOT, c))) newest = Math.max(newest, statSync(join(ROOT, c)).mtimeMs);
  return newest;
}

/** Why dist/ must be built now, or undefined when it is current. */
export function staleness() {
  if (!existsSync(STAMP)) return "dist/ holds no build yet";
  const built = Number(readFileSync(STAMP, "utf8"));
  if (!(built >= newestSource())) return "the sources changed since the last build";
  return undefined;
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/** Runs `fn` holding the build lock: two commands started at once build once, the second waits. */
function withLock(fn) {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      closeSync(openSync(LOCK, "wx"));
      writeFileSync(LOCK, String(process.pid));
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      const holder = Number(readFileSync(LOCK, "utf8") || "0");
      if (holder > 0 && !pidAlive(holder)) rmSync(LOCK, { force: true });
      else if (Date.now() > deadline) throw new Error(`${LOCK} is held by pid ${holder} for over 3 minutes`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK, { force: true });
  }
}

/** Builds dist/ if it is missing or stale; throws with tsc's output if the build fails. */
export function ensureBuilt({ quiet = false } = {}) {
  const tsc = join(ROOT, "node_modules", ".bin", "tsc");
  if (!existsSync(tsc)) {
    // An installed package without devDependencies runs the dist/ it was shipped with.
    if (existsSync(join(DIST, "cli", "main.js"))) return;
    throw new Error("dist/ is missing and TypeScript is not installed: run `npm ci && npm run build`");
  }
  if (staleness() === undefined) return;
  withLock(() => {
    const why = staleness();
    if (why === undefined) return;
    const started = Date.now();
    if (!quiet) process.stderr.write(`xbus: building dist/ (${why}) …\n`);
    const r = spawnSync(tsc, ["-p", join(ROOT, "tsconfig.build.json")], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0)
      throw new Error(
        `building dist/ failed (tsc -p tsconfig.build.json):\n${(r.stdout + r.stderr).trim() || r.error?.message}`,
      );
    writeFileSync(STAMP, String(started));
    if (!quiet)
      process.stderr.write(`xbus: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });
}

// `npm run build`: build now, whatever the stamp says.
if (process.argv[1] && import.meta.filename === process.argv[1]) {
  try {
    rmSync(STAMP, { force: true });
    ensureBuilt();
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
