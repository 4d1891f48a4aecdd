import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkLayers, importProblem } from "../scripts/layers.mjs";

/* `npm run layers`: the repository passes, and each kind of wrong import is caught. */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "xbus-layers-"));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe("the layering check", () => {
  it("passes on this repository", () => {
    expect(checkLayers(join(import.meta.dirname, ".."))).toEqual([]);
  });

  it("catches an import that points up, naming both files and layers", () => {
    const root = tree({
      "core/errors.ts": 'import { startStack } from "../stack/index.js";\n',
      "stack/index.ts": "export const startStack = 1;\n",
      "broker/server.ts": 'import type { Foo } from "../cli/main.js";\n',
      "cli/main.ts": "export type Foo = 1;\n",
    });
    expect(checkLayers(root)).toEqual([
      "broker/server.ts imports cli/main.ts: broker must not depend on cli (layers point down)",
      "core/errors.ts imports stack/index.ts: core must not depend on stack (layers point down)",
    ]);
  });

  it("sends other modules through the front doors of stack/, verifier/ and core's rooms", () => {
    expect(importProblem("cli/dev/dev.ts", "stack/dev-stack.ts")).toContain("through stack/index.ts");
    expect(importProblem("broker/indexer/x.ts", "verifier/verify-tree.ts")).toContain("verifier/index.ts");
    expect(importProblem("core/nats/subjects.ts", "core/contract/service-name.ts")).toContain("index.ts");
    expect(importProblem("core/nats/subjects.ts", "core/contract/index.ts")).toBeUndefined();
    expect(importProblem("stack/dev-stack.ts", "stack/nats/nats-server.ts")).toBeUndefined();
  });

  it("catches an import cycle, type-only imports included", () => {
    const root = tree({
      "core/a.ts": 'import { b } from "./b.js";\nexport const a = b;\n',
      "core/b.ts": 'import type { C } from "./c.js";\nexport const b = 1 as C;\n',
      "core/c.ts": 'import { a } from "./a.js";\nexport type C = typeof a;\n',
    });
    expect(checkLayers(root)).toEqual([
      "import cycle among core/a.ts, core/b.ts, core/c.ts (move what they share into a module of its own)",
    ]);
  });

  it("puts faults/ beside bench/, above stack/ and below cli/", () => {
    expect(importProblem("faults/run.ts", "bench/child-process.ts")).toBeUndefined();
    expect(importProblem("faults/run.ts", "stack/index.ts")).toBeUndefined();
    expect(importProblem("cli/commands/faults.ts", "faults/run.ts")).toBeUndefined();
    expect(importProblem("faults/run.ts", "cli/main.ts")).toContain("faults must not depend on cli");
    expect(importProblem("stack/dev-stack.ts", "faults/run.ts")).toContain("stack must not depend on faults");
  });

  it("lets tests import anything", () => {
    expect(importProblem("core/ids.test.ts", "stack/index.ts")).toBeUndefined();
    expect(importProblem("test/e2e/x.test.ts", "cli/main.ts")).toBeUndefined();
  });
});
