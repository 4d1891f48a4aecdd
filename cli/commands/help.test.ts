import { afterEach, describe, expect, it, vi } from "vitest";
import { runCli } from "../../test/helpers/run-cli.js";
import { commands } from "./index.js";

/*
 * `xbus <command> [<subcommand>] --help` shows the help and does nothing else: a reader who asks
 * `xbus log export --help` must not get the log exported, nor `xbus log reindex --help` an error.
 */
const SUBCOMMANDS: Record<string, readonly string[]> = {
  dev: [],
  certs: ["init", "issue", "revoke", "crl", "list", "inspect"],
  broker: [],
  connector: [],
  federation: ["init"],
  nats: ["config"],
  adapter: ["test"],
  policy: ["check", "test", "explain", "who-can"],
  log: ["verify", "export", "query", "alerts", "reindex", "receipt"],
  bench: [],
  faults: [],
  witness: [],
};

const run = runCli;

afterEach(() => vi.restoreAllMocks());

describe("xbus … --help", () => {
  it("lists every command this test knows the subcommands of", () => {
    expect(commands.map((c) => c.name).sort()).toEqual(Object.keys(SUBCOMMANDS).sort());
  });

  for (const [name, subs] of Object.entries(SUBCOMMANDS)) {
    for (const args of [[name, "--help"], ...subs.map((s) => [name, s, "--help"])]) {
      it(`xbus ${args.join(" ")} prints the help, exits 0 and runs nothing`, async () => {
        const { code, out, err } = await run(args);
        expect(err).toBe("");
        expect(code).toBe(0);
        expect(out).toMatch(new RegExp(`^xbus ${name}\\b`));
        // Help only: no table, no export line, no result of a run.
        expect(out).not.toMatch(/^(ok|FAIL|index\t|id\t|\{"type")/m);
      });
    }
  }

  it("names an unknown subcommand on stderr and exits 2", async () => {
    for (const name of ["certs", "adapter", "policy", "log"]) {
      const { code, err } = await run([name, "frobnicate"]);
      expect(code, name).toBe(2);
      expect(err, name).toContain(`unknown subcommand "frobnicate"`);
    }
  });
});

describe("xbus … --frobnicate (a usage error)", () => {
  for (const [name, subs] of Object.entries(SUBCOMMANDS)) {
    for (const args of subs.length === 0 ? [[name]] : subs.map((s) => [name, s])) {
      it(`xbus ${args.join(" ")} names the unknown option, points to --help and exits 2`, async () => {
        const { code, out, err } = await run([...args, "--frobnicate"]);
        expect(code).toBe(2);
        expect(err).toContain("'--frobnicate'");
        expect(`${out}${err}`).toMatch(new RegExp(`xbus ${name} --help|^xbus ${name}\\b`, "m"));
      });
    }
  }
});
