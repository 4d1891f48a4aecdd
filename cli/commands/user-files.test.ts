import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { commands } from "./index.js";
import { runCommand } from "./run-command.js";

const dir = mkdtempSync(join(tmpdir(), "xbus-user-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(name: string, args: string[]): Promise<{ code: number; err: string }> {
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  const command = commands.find((c) => c.name === name);
  if (!command) throw new Error(`no command ${name}`);
  try {
    return { code: await runCommand(command, args), err };
  } finally {
    vi.restoreAllMocks();
  }
}

/* Every command that reads a file the user named: a missing one or a folder is one line naming it, exit 1. */
const CASES: [string, (file: string) => string[]][] = [
  ["certs", (f) => ["inspect", f]],
  ["log", (f) => ["verify", "--file", f]],
  ["log", (f) => ["receipt", "--file", f]],
  ["broker", (f) => ["--config", f]],
  ["connector", (f) => ["--config", f]],
];

describe("a file named on the command line that cannot be read", () => {
  for (const [name, args] of CASES) {
    it(`xbus ${name} ${args("FILE").join(" ")}: names the file and the reason, exits 1, no stack`, async () => {
      const missing = join(dir, "missing.file");
      for (const [file, why] of [
        [missing, "no such file"],
        [dir, "it is a directory"],
      ] as const) {
        const { code, err } = await run(name, args(file));
        expect(code, file).toBe(1);
        expect(err, file).toMatch(new RegExp(`^xbus ${name}\\b.*cannot read`));
        expect(err, file).toContain(file);
        expect(err, file).toContain(why);
        expect(err, file).not.toMatch(/ENOENT|EISDIR|\n\s+at /);
        expect(err.trim().split("\n"), file).toHaveLength(1);
      }
    });
  }

  it("xbus policy --dir that is not a folder: names it, exits 2", async () => {
    const { code, err } = await run("policy", ["check", "--dir", join(dir, "nope")]);
    expect(code).toBe(2);
    expect(err).toContain(`--dir ${join(dir, "nope")}: no such folder`);
  });

  it("xbus policy --dir naming a file: says it is not a folder (not that there is none), exits 2", async () => {
    const file = join(dir, "policy.yaml");
    writeFileSync(file, "grants: []\n");
    const { code, err } = await run("policy", ["check", "--dir", file]);
    expect(code).toBe(2);
    expect(err).toContain(`--dir ${file}: not a folder`);
    expect(err).not.toContain("no such folder");
  });
});
