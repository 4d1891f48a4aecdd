import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

/**
 * Reads a `.cpuprofile` (node --cpu-prof) and lists where the time went by
 * self time: per function, and per package or source folder.
 *
 *   node --import tsx bench/profile-summary.ts PROFILE-DIR/bus-bridged [top] [last-seconds]
 *
 * (a folder: the largest .cpuprofile in it, the main thread's; or one file)
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/**
 * Hits per node id: all of them, or only the samples of the last `lastSeconds`
 * (a bench's measured window, without start-up and certificate generation).
 */
function hitsPerNode(p: Profile, lastSeconds: number | undefined): Map<number, number> {
  const hits = new Map<number, number>();
  if (lastSeconds === undefined || !p.samples || !p.timeDeltas) {
    for (const n of p.nodes) hits.set(n.id, n.hitCount ?? 0);
    return hits;
  }
  const from = p.endTime - lastSeconds * 1e6;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < from) continue;
    const id = p.samples[i] as number;
    hits.set(id, (hits.get(id) ?? 0) + 1);
  }
  return hits;
}

const ROOT = resolve(import.meta.dirname, "..");

export function where(url: string): string {
  if (!url) return "(native)";
  const path = url.startsWith("file://") ? new URL(url).pathname : url;
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const parts = path.slice(nm + 13).split("/");
    return parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
  }
  if (path.startsWith("node:")) return path;
  return relative(ROOT, path);
}

export function summariseProfile(file: string, top = 25, lastSeconds?: number): string {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const hitsOf = hitsPerNode(p, lastSeconds);
  const total = [...hitsOf.values()].reduce((n, x) => n + x, 0);
  const byFn = new Map<string, number>();
  const byPlace = new Map<string, number>();
  const keyOf = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anonymous)"}  ${where(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""}`;
  // Inclusive time: a function's own samples and those of everything it called (counted once per stack).
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const inclusive = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): number => {
    const n = byId.get(id) as ProfileNode;
    const key = keyOf(n);
    const fresh = !onStack.has(key);
    if (fresh) onStack.add(key);
    let sum = hitsOf.get(id) ?? 0;
    for (const c of n.children ?? []) sum += walk(c, onStack);
    if (fresh) {
      onStack.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + sum);
    }
    return sum;
  };
  if (p.nodes[0]) walk(p.nodes[0].id, new Set());
  for (const n of p.nodes) {
    const hits = hitsOf.get(n.id) ?? 0;
    if (hits === 0) continue;
    const place = where(n.callFrame.url);
    const key = keyOf(n);
    byFn.set(key, (byFn.get(key) ?? 0) + hits);
    const folder =
      place.includes("/") && !place.startsWith("@") ? place.slice(0, place.lastIndexOf("/")) : place;
    byPlace.set(folder, (byPlace.get(folder) ?? 0) + hits);
  }
  const pct = (h: number) => `${((100 * h) / total).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, h]) => `  ${pct(h)}  ${k}`)
      .join("\n");
  return [
    `${file}: ${total} samples over ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s`,
    "self time by package or folder:",
    list(byPlace),
    "self time by function:",
    list(byFn),
    "total time (self and callees) by function of this repository:",
    list(
      new Map(
        [...inclusive].filter(([k]) => !/ (\(native\)|node:|@|[a-z-]+:\d)/.test(k.slice(k.indexOf("  ")))),
      ),
    ),
  ].join("\n");
}

/**
 * A profile file, or the main thread's profile in a folder `--profile` wrote: each thread writes its own
 * file there, and the main thread's is the largest.
 */
export function mainProfileIn(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const files = readdirSync(path)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => join(path, f))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  if (!files[0]) throw new Error(`${path} holds no .cpuprofile file`);
  return files[0];
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const usage = "usage: profile-summary.ts FILE.cpuprofile|FOLDER [top] [last-seconds]\n";
  const [file, topArg, lastArg, ...extra] = process.argv.slice(2);
  const top = topArg === undefined ? 25 : Number(topArg);
  const last = lastArg === undefined ? undefined : Number(lastArg);
  const bad =
    !file || extra.length > 0
      ? "give one profile file or folder"
      : !Number.isInteger(top) || top < 1
        ? `top must be a whole number ≥ 1, got ${JSON.stringify(topArg)}`
        : last !== undefined && !(last > 0)
          ? `last-seconds must be a number > 0, got ${JSON.stringify(lastArg)}`
          : undefined;
  if (bad || !file) {
    process.stderr.write(`profile-summary: ${bad}\n${usage}`);
    process.exit(2);
  }
  process.stdout.write(`${summariseProfile(mainProfileIn(file), top, last)}\n`);
}
