#!/usr/bin/env node
// The layering check (`npm run layers`): every import points down the layers, never up.
//
//   proto < core < certs, policies, adapters, verifier, witness < broker < stack < bench, faults < cli
//
// Tests (`*.test.ts` anywhere, and everything under test/) sit above all of them. No module imports
// itself round a cycle (core/minimise once had the field mask and the wire scan importing each other). Inside core, the
// kernel (files at core/'s root) is below the rooms (core/<room>/), and rooms import each other
// only through their front door (core/<room>/index.ts). stack/ and verifier/ are entered only
// through their index.ts. Plain Node, no TypeScript loader, so it runs before anything is built.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";

const RANKS = {
  proto: 0,
  core: 1,
  certs: 2,
  policies: 2,
  adapters: 2,
  verifier: 2,
  witness: 2,
  broker: 3,
  stack: 4,
  bench: 5,
  faults: 5,
  cli: 6,
  test: 7,
};
/** Folders whose files others may import only through `<folder>/index.ts`. */
const FRONT_DOORS = ["stack", "verifier"];
const SOURCE = /\.(ts|tsx|js|mjs)$/;
const SKIP = new Set(["node_modules", "dist", ".xbus", ".git", "gen"]);
const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^"';]*?from\s*"(\.[^"]+)"|import\(\s*"(\.[^"]+)"\s*\)/g;

/** The layer a repository path belongs to; tests rank above everything. */
export function layerOf(path) {
  const top = path.split("/")[0];
  if (/\.test\.tsx?$/.test(path)) return { name: "test", rank: RANKS.test };
  if (!(top in RANKS)) return undefined;
  if (top === "core") {
    const parts = path.split("/");
    // The kernel (core/*.ts) is below the rooms (core/<room>/…).
    return parts.length > 2 ? { name: `core/${parts[1]}`, rank: 1.5 } : { name: "core", rank: 1 };
  }
  return { name: top, rank: RANKS[top] };
}

/** Problems with one import from `from` (a file) to `to` (the imported path), both relative to the root. */
export function importProblem(from, to) {
  const a = layerOf(from);
  const b = layerOf(to);
  if (!a || !b) return undefined;
  if (b.rank > a.rank)
    return `${from} imports ${to}: ${a.name} must not depend on ${b.name} (layers point down)`;
  if (
    a.name !== b.name &&
    a.name.startsWith("core/") &&
    b.name.startsWith("core/") &&
    !to.endsWith("/index.ts")
  )
    return `${from} imports ${to}: another core room is entered through its index.ts`;
  for (const door of FRONT_DOORS) {
    const inside = (p) => p.startsWith(`${door}/`);
    if (inside(to) && !inside(from) && to !== `${door}/index.ts`)
      return `${from} imports ${to}: ${door}/ is entered through ${door}/index.ts`;
  }
  return undefined;
}

function* sourceFiles(root, dir = root) {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) yield* sourceFiles(root, full);
    else if (SOURCE.test(name)) yield relative(root, full).split(sep).join("/");
  }
}

/** Every layering problem under `root`, one line each: imports that point up, then import cycles. */
export function checkLayers(root) {
  const problems = [];
  const graph = new Map();
  for (const file of sourceFiles(root)) {
    const text = readFileSync(join(root, file), "utf8");
    const deps = [];
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2];
      const target = posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, ".ts");
      const problem = importProblem(file, target);
      if (problem) problems.push(problem);
      deps.push(target);
    }
    // Tests may import each other's helpers freely; cycles matter among the modules.
    if (layerOf(file)?.name !== "test") graph.set(file, deps);
  }
  for (const cycle of cycles(graph))
    problems.push(`import cycle among ${cycle.join(", ")} (move what they share into a module of its own)`);
  return problems;
}

/** The import cycles of `graph` (file → imported files), one per strongly connected component (Tarjan). */
function cycles(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = process.argv[2] ?? process.cwd();
  const problems = checkLayers(root);
  for (const p of problems) console.error(`layers: ${p}`);
  if (problems.length > 0) {
    console.error(
      `layers: ${problems.length} import(s) point the wrong way; see scripts/layers.mjs for the order`,
    );
    process.exit(1);
  }
  console.log(
    "layers: every import points down (proto < core < certs/policies/adapters/verifier/witness < broker < stack < bench/faults < cli)",
  );
}
