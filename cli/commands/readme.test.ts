import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { commands } from "./index.js";
import { xbusProgram } from "./program.js";

/*
 * README's list of commands and options is checked against the help the option specs generate, both
 * ways: a flag added to a command and not to README fails, and so does one README names that no command
 * takes. So are the example command lines elsewhere in README: each flag one of its command's.
 */
const README = readFileSync(join(import.meta.dirname, "../../README.md"), "utf8");
const SECTION = "## The command line";

const program = xbusProgram({ io: { out: () => {}, err: () => {} }, code: 0 }, commands);

/** `--ca-dir <dir>` as README writes it: `--ca-dir DIR`. */
const asReadme = (term: string) => term.replace(/<([^>]+)>/g, (_, v: string) => v.toUpperCase());

/** Every command that runs something (not a group of subcommands), as its help shows it. */
function leaves(cmd: Command, path = "xbus"): { usage: string; summary: string; options: string[] }[] {
  return cmd.commands
    .filter((c) => c.name() !== "help")
    .flatMap((c) => {
      const name = `${path} ${c.name()}`;
      if (c.commands.length > 0) return leaves(c, name);
      const help = c.createHelp();
      const args = help.visibleArguments(c).map((a) => a.name().toUpperCase());
      return [
        {
          usage: [name, ...args].join(" "),
          summary: c.summary(),
          options: help
            .visibleOptions(c)
            .filter((o) => o.long !== "--help")
            .map((o) => asReadme(help.optionTerm(o))),
        },
      ];
    });
}

/** The rows of README's table: | `xbus certs issue` | summary | `--ca-dir DIR`, … |. */
function readmeRows(): { usage: string; summary: string; options: string[] }[] {
  const start = README.indexOf(`\n${SECTION}\n`);
  if (start < 0) throw new Error(`README has no "${SECTION}" section`);
  const end = README.indexOf("\n## ", start + 1);
  return README.slice(start, end < 0 ? undefined : end)
    .split("\n")
    .filter((l) => l.startsWith("| `xbus "))
    .map((l) => {
      const [usage = "", summary = "", options = ""] = l
        .slice(1, -1)
        .split(" | ")
        .map((c) => c.trim());
      return {
        usage: usage.replace(/`/g, ""),
        summary,
        options: [...options.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? ""),
      };
    });
}

/** The command a line names and the flags it gives it: `xbus log verify --file x # --state` → verify, [--file]. */
function commandLine(line: string): { cmd: Command; words: string[]; flags: string[] } | undefined {
  const text = line.trim().replace(/^\$ /, "");
  // What xbus prints (`xbus log: --limit must be …`) is no command line.
  if (/^xbus( [a-z-]+)*:/.test(text)) return undefined;
  const m = /^(?:npx xbus|xbus|npm run xbus --|npm run (dev|bench) --)(?:\s+(.*))?$/.exec(text);
  if (!m) return undefined;
  const words = [...(m[1] ? [m[1]] : []), ...((m[2] ?? "").split("#")[0] ?? "").split(/\s+/).filter(Boolean)];
  let cmd = program;
  const path: string[] = [];
  for (const w of words) {
    const sub = cmd.commands.find((c) => c.name() === w);
    if (!sub) break;
    cmd = sub;
    path.push(w);
  }
  const flags = words.flatMap((w) => /^\[?(--[a-z][a-z0-9-]*)/.exec(w)?.[1] ?? []);
  return { cmd, words: path, flags };
}

/** Every `xbus …` line README shows: in code blocks, and in inline code. */
function readmeCommandLines(): string[] {
  const lines: string[] = [];
  let fenced = false;
  for (const line of README.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    else if (fenced) lines.push(line);
    else for (const m of line.matchAll(/`((?:npx )?xbus [^`]+)`/g)) lines.push(m[1] ?? "");
  }
  return lines.filter((l) => commandLine(l) !== undefined);
}

describe("README's command line", () => {
  it(`lists every command with its summary and options, as --help shows them, and nothing else ("${SECTION}")`, () => {
    expect(readmeRows()).toEqual(leaves(program));
  });

  it("gives each command in its examples only flags that command takes", () => {
    const lines = readmeCommandLines();
    expect(lines.length).toBeGreaterThan(30);
    const wrong: string[] = [];
    for (const line of lines) {
      const found = commandLine(line);
      if (!found) continue;
      const { cmd, flags } = found;
      const known = new Set(cmd.options.map((o) => o.long));
      known.add("--help");
      for (const flag of flags) if (!known.has(flag)) wrong.push(`${flag} in: ${line.trim()}`);
    }
    expect(wrong).toEqual([]);
  });

  it("reads a command line's command and flags, not what follows a #", () => {
    const found = commandLine("xbus log verify --file x --frobnicate # --state");
    expect(found?.words).toEqual(["log", "verify"]);
    expect(found?.flags).toEqual(["--file", "--frobnicate"]);
  });
});
