import { afterEach, describe, expect, it, vi } from "vitest";
import { runXbus } from "./run-command.js";

afterEach(() => vi.restoreAllMocks());

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runXbus(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

/*
 * A wrong command line, however it is wrong, is two lines on stderr and exit 2: what was wrong, naming
 * the flag or command, then where the right ones are listed. Nothing on stdout, no help dumped, nothing run.
 */
const CASES: [args: string[], first: RegExp, help: string][] = [
  [["frobnicate"], /^xbus: unknown command "frobnicate" \(known: dev, certs, /, "xbus --help"],
  [
    ["log", "frobnicate"],
    /^xbus log: unknown subcommand "frobnicate" \(known: serve, verify, /,
    "xbus log --help",
  ],
  [
    ["log", "verify", "--stat", "x"],
    /^xbus log: Unknown option '--stat' \(did you mean --state\?\)$/,
    "xbus log verify --help",
  ],
  [
    ["log", "export", "--out"],
    /^xbus log: Option '--out <file>' argument missing$/,
    "xbus log export --help",
  ],
  [
    ["log", "query", "--limit", "ten"],
    /^xbus log: --limit must be a whole number from 1, got "ten"$/,
    "xbus log query --help",
  ],
  [
    ["log", "receipt", "--public-key", "abc"],
    /^xbus log: --public-key must be base64 of the log's raw 32-byte/,
    "xbus log receipt --help",
  ],
  [["log", "receipt"], /^xbus log: give the receipt once: /, "xbus log receipt --help"],
  // bench printed its whole help here before.
  [
    ["bench", "--rounds", "two"],
    /^xbus bench: --rounds must be a number ≥ 1, got "two"$/,
    "xbus bench --help",
  ],
  [
    ["bench", "--layout", "cluster"],
    /^xbus bench: --layout must be split or one-process/,
    "xbus bench --help",
  ],
  [
    ["certs", "issue", "--role", "emperor"],
    /^xbus certs: --role must be one of system, /,
    "xbus certs issue --help",
  ],
  [
    ["certs", "list", "--ca-dir", "x", "--status", "fine"],
    /^xbus certs: --status must be one of valid, /,
    "xbus certs list --help",
  ],
  [["certs", "inspect"], /^xbus certs: Missing required argument 'file'$/, "xbus certs inspect --help"],
  [
    ["certs", "inspect", "a.pem", "b.pem"],
    /^xbus certs: Too many arguments for 'inspect'/,
    "xbus certs inspect --help",
  ],
  [["adapter", "test"], /^xbus adapter: --target HOST:PORT is required$/, "xbus adapter test --help"],
  [
    ["adapter", "test", "--target", "nohost"],
    /^xbus adapter: --target must be HOST:PORT, got "nohost"$/,
    "xbus adapter test --help",
  ],
  [
    ["policy", "explain", "--service", "s", "--purpose", "p"],
    /^xbus policy: --consumer SPIFFE-ID is required$/,
    "xbus policy explain --help",
  ],
  [
    ["policy", "explain", "--consent", "maybe"],
    /^xbus policy: --consent must be one of none, valid, /,
    "xbus policy explain --help",
  ],
  [["policy", "who-can"], /^xbus policy: Missing required argument 'target'$/, "xbus policy who-can --help"],
  [["broker", "--nats"], /^xbus broker: Option '--nats <url>' argument missing$/, "xbus broker --help"],
  [["dev", "--smoke", "yes"], /^xbus dev: Too many arguments for 'dev'/, "xbus dev --help"],
];

describe("a wrong command line", () => {
  for (const [args, first, help] of CASES) {
    it(`xbus ${args.join(" ")}: one line naming it, the pointer to ${help}, exit 2`, async () => {
      const r = await run(args);
      expect(r.out).toBe("");
      const lines = r.err.split("\n");
      expect(lines, r.err).toHaveLength(3);
      expect(lines[0]).toMatch(first);
      expect(lines[1]).toMatch(new RegExp(`^Run \`${help}\` for the (options|commands)\\.$`));
      expect(lines[2]).toBe("");
      expect(r.code).toBe(2);
    });
  }

  it("an unknown flag is named before a required one is missed: it may be that one misspelt", async () => {
    const r = await run(["adapter", "test", "--targt", "localhost:1"]);
    expect(r.err).toMatch(/^xbus adapter: Unknown option '--targt' \(did you mean --target\?\)\n/);
    expect(r.code).toBe(2);
  });

  it("--help beside a value commander refuses still shows the help, and runs nothing", async () => {
    for (const args of [
      ["log", "query", "--limit", "ten", "--help"],
      ["log", "export", "--frobnicate", "-h"],
      ["certs", "issue", "--role", "emperor", "--help"],
    ]) {
      const r = await run(args);
      expect(r.err, args.join(" ")).toBe("");
      expect(r.out, args.join(" ")).toMatch(new RegExp(`^xbus ${args[0]} ${args[1]} \\[options\\]\n`));
      expect(r.code, args.join(" ")).toBe(0);
    }
  });

  it("a command of subcommands run without one shows its help on stderr and exits 2", async () => {
    for (const name of ["certs", "adapter", "policy", "log"]) {
      const r = await run([name]);
      expect(r.out, name).toBe("");
      expect(r.err, name).toMatch(new RegExp(`^xbus ${name} \\[options\\] \\[command\\]\\n`));
      expect(r.code, name).toBe(2);
    }
  });
});
