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
