import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { where } from "./profile-summary.js";

/**
 * Reads an allocation profile (`npm run bench -- --heap-profile DIR`: V8's
 * sampling heap profiler, freed objects included) and lists what was
 * allocated: by package or folder, by function, and by the nearest function of
 * this repository on the stack (who asked for it, library allocations
 * included). Given the number of calls the system answered, in KB per call.
 *
 *   node --import tsx bench/heap-summary.ts DIR/bus-bridged.heapprofile [calls] [top]
 */
interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children?: HeapNode[];
}

const isOurs = (url: string) => url !== "" && !url.includes("node_modules") && !url.startsWith("node:");

export function summariseHeapProfile(file: string, calls?: number, top = 25): string {
  const { head } = JSON.parse(readFileSync(file, "utf8")) as { head: HeapNode };
  const byPlace = new Map<string, number>();
  const byFn = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let total = 0;
  const name = (f: HeapNode["callFrame"]) =>
    `${f.functionName || "(anonymous)"}  ${where(f.url)}${f.url ? `:${f.lineNumber + 1}` : ""}`;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  // Iterative walk: allocation stacks can be deep.
  const stack: { node: HeapNode; owner: string }[] = [
    { node: head, owner: "(no function of this repository)" },
  ];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { node } = item;
    const owner = isOurs(node.callFrame.url) ? name(node.callFrame) : item.owner;
    if (node.selfSize > 0) {
      total += node.selfSize;
      add(byPlace, where(node.callFrame.url), node.selfSize);
      add(byFn, name(node.callFrame), node.selfSize);
      add(byOwner, owner, node.selfSize);
    }
    for (const c of node.children ?? []) stack.push({ node: c, owner });
  }
  const size = (bytes: number) =>
    calls
      ? `${(bytes / calls / 1024).toFixed(2).padStart(7)} KB`
      : `${(bytes / 1048576).toFixed(1).padStart(7)} MB`;
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `  ${size(v)} ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
      .join("\n");
  return [
    `${file}: ${(total / 1048576).toFixed(1)} MB allocated` +
      (calls ? `, ${(total / calls / 1024).toFixed(1)} KB per call over ${calls} calls` : ""),
    "by package or folder:",
    list(byPlace),
    "by function (self):",
    list(byFn),
    "by the nearest function of this repository on the stack:",
    list(byOwner),
  ].join("\n");
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const [file, callsArg, topArg, ...extra] = process.argv.slice(2);
  const calls = callsArg === undefined ? undefined : Number(callsArg);
  const top = topArg === undefined ? 25 : Number(topArg);
  const bad =
    !file || extra.length > 0
      ? "give one .heapprofile file"
      : calls !== undefined && !(Number.isInteger(calls) && calls > 0)
        ? `calls must be a whole number > 0, got ${JSON.stringify(callsArg)}`
        : !Number.isInteger(top) || top < 1
          ? `top must be a whole number ≥ 1, got ${JSON.stringify(topArg)}`
          : undefined;
  if (bad || !file) {
    process.stderr.write(`heap-summary: ${bad}\nusage: heap-summary.ts FILE.heapprofile [calls] [top]\n`);
    process.exit(2);
  }
  process.stdout.write(`${summariseHeapProfile(file, calls, top)}\n`);
}
