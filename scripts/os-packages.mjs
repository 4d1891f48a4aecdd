#!/usr/bin/env node
// What the OS must provide for `npm test`, checked once, up front: each entry names the Debian package that
// provides it and how to tell it is there. `.ci/run` installs what this lists as missing; the test run's global
// setup (test/helpers/build-dist.ts) refuses to start without them, in one line naming the command to run.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** @type {{ pkg: string, what: string, present: () => boolean }[]} */
export const OS_PACKAGES = [
  {
    pkg: "nats-server",
    what: "every suite's message bus",
    present: () =>
      ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].some(existsSync) ||
      spawnSync("nats-server", ["--version"]).status === 0,
  },
  {
    pkg: "chromium",
    what: "the real-browser tests",
    present: () => existsSync(process.env.XBUS_CHROMIUM ?? "/usr/bin/chromium"),
  },
  {
    pkg: "golang-go",
    what: "the Go interop test (an independent checker of our checkpoints and proofs)",
    present: () => spawnSync("go", ["version"]).status === 0,
  },
  {
    pkg: "golang-golang-x-mod-dev",
    what: "golang.org/x/mod/sumdb/note and sumdb/tlog for the Go interop test",
    present: () => existsSync("/usr/share/gocode/src/golang.org/x/mod/sumdb/note"),
  },
  // The Python example adapter (adapters/examples/python-rsta, test/contract/python-adapter.test.ts).
  ...["grpc", "cryptography"].map((module) => ({
    pkg: module === "grpc" ? "python3-grpcio" : "python3-cryptography",
    what: "the Python example adapter",
    present: () => spawnSync("/usr/bin/python3", ["-c", `import ${module}`]).status === 0,
  })),
];

/** The packages whose check fails, in list order. */
export function missingOsPackages() {
  return OS_PACKAGES.filter((p) => !p.present()).map((p) => p.pkg);
}

/** One line for a person: what is missing and the command that installs it; undefined when nothing is. */
export function osPackagesProblem() {
  const missing = missingOsPackages();
  if (missing.length === 0) return undefined;
  return `missing OS packages (${missing.join(", ")}): run \`sudo apt-get install -y ${missing.join(" ")}\``;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // `node scripts/os-packages.mjs` prints the missing package names, one line, for .ci/run's apt-get.
  process.stdout.write(`${missingOsPackages().join(" ")}\n`);
}
