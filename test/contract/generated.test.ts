import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const out = mkdtempSync(join(tmpdir(), "xbus-gen-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

const bin = (name: string) => join(root, "node_modules/.bin", name);

it("buf lint is clean", () => {
  expect(() => execFileSync(bin("buf"), ["lint"], { cwd: root, encoding: "utf8" })).not.toThrow();
});

it("the committed generated code and catalogue match what `npm run generate` makes", () => {
  const env = { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH}` };
  execFileSync(bin("buf"), ["generate", "-o", out], { cwd: root, env });
  execFileSync(bin("buf"), ["build", "-o", join(out, "proto/gen/catalogue.binpb")], { cwd: root, env });
  const committed = join(root, "proto/gen");
  const fresh = join(out, "proto/gen");
  const list = (d: string) =>
    files(d)
      .map((f) => relative(d, f))
      .sort();
  expect(list(fresh)).toEqual(list(committed));
  for (const f of list(fresh)) {
    expect(
      readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))),
      `${f} is stale: run npm run generate`,
    ).toBe(true);
  }
});
