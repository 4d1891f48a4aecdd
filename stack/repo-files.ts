import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * A folder of the repository that tsc does not copy to dist/ (the policy
 * bundle's YAML, say): found by walking up from this module, so the same code
 * works from the sources (vitest, tsx) and compiled in dist/stack/.
 * `marker` is a file the folder must hold.
 */
export function repoFolder(name: string, marker: string): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, name);
    if (existsSync(join(candidate, marker))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`${name}/${marker} not found above ${import.meta.dirname}`);
}
