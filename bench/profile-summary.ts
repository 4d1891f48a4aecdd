import { readFileSync } from "node:fs";
import { relative, resolve } from "node:path";

/**
 * Reads a `.cpuprofile` (node --cpu-prof) and lists where the time went by
 * self time: per function, and per package or source folder.
 *
 *   node --import tsx bench/profile-summary.ts bench/results/profiles/bus-bridged.cpuprofile [top]
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

const ROOT = resolve(import.meta.dirname, "..");

function where(url: string): string {
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

export function summariseProfile(file: string, top = 25): string {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const total = p.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
  const byFn = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const n of p.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const place = where(n.callFrame.url);
    const key = `${n.callFrame.functionName || "(anonymous)"}  ${place}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""}`;
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
  ].join("\n");
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: profile-summary.ts FILE.cpuprofile [top]\n");
    process.exit(2);
  }
  process.stdout.write(`${summariseProfile(file, Number(process.argv[3] ?? 25))}\n`);
}
