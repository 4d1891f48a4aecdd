import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadUiAssets, UI_FILES } from "./ui-assets.js";

// The UI's modules are served from a fixed list (ui-assets.ts): these tests fail when a module is added to
// ui/ but not to the list, or imports one that is not served, which would break the page in a browser.

const dir = join(import.meta.dirname, "ui");
const { modules, vendor } = loadUiAssets([dir]);

describe("the review UI's modules", () => {
  it("are every .js file in ui/, and only those", () => {
    const onDisk = readdirSync(dir).filter((f) => f.endsWith(".js"));
    expect(Object.keys(modules).sort()).toEqual(onDisk.sort());
    expect(UI_FILES.filter((f) => !f.endsWith(".js"))).toEqual(["index.html", "app.css"]);
  });

  it("import only modules the server serves, by a relative path of this folder", () => {
    for (const [name, text] of Object.entries(modules)) {
      const imports = [...text.matchAll(/^import [^"]*"([^"]+)";$/gm)].map((m) => m[1]);
      for (const spec of imports) {
        expect(spec, `${name} imports ${spec}`).toMatch(/^\.\/(vendor\/)?[a-z0-9-]+\.js$/);
        if (spec?.startsWith("./vendor/"))
          expect(Object.keys(vendor), `${name} imports ${spec}`).toContain(spec.slice("./vendor/".length));
        else expect(Object.keys(modules), `${name} imports ${spec}`).toContain(spec?.slice(2));
      }
    }
    // The entry reaches every view through its imports.
    expect(modules["app.js"]).toContain('from "./tree-head-view.js"');
    // Only the charts draw with the vendored uPlot.
    const users = Object.entries(modules).filter(([, text]) => text.includes('"./vendor/'));
    expect(users.map(([name]) => name)).toEqual(["charts-view.js"]);
  });

  it("each start with // @ts-check, so the compiler covers them (broker/review/ui/tsconfig.json)", () => {
    for (const [name, text] of Object.entries(modules))
      expect(text.startsWith("// @ts-check\n"), name).toBe(true);
  });

  it("put data on the page as text only, store nothing beyond the tab, and evaluate nothing", () => {
    for (const [name, text] of Object.entries(modules))
      expect(text, name).not.toMatch(
        /innerHTML|outerHTML|insertAdjacentHTML|document\.write|localStorage|eval\(/,
      );
  });

  it("chart-pick.js imports nothing either, so its tests run it in Node", () => {
    expect(modules["chart-pick.js"]).not.toMatch(/^import /m);
  });

  it("merkle.js stays apart from everything else, the server's code included: it imports nothing", () => {
    expect(modules["merkle.js"]).not.toMatch(/^import /m);
  });
});
