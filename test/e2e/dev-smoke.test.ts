import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { killXbusProcesses, runXbus, spawnXbus } from "../helpers/xbus-process.js";

const root = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "xbus-dev-"));
afterAll(() => {
  killXbusProcesses();
  rmSync(dir, { recursive: true, force: true });
});

/** The `xbus log receipt …` command `xbus dev` prints under an exchange, run as printed: its result. */
function checkPrintedReceipt(stdout: string): { status: number | null; stdout: string } {
  const m = /npm run xbus -- log receipt (--offline )?--broker-key (\S+) --json '([^']+)'/.exec(stdout);
  expect(m, "a receipt check command").not.toBeNull();
  const [, offline, key = "", json = ""] = m ?? [];
  return runXbus(["log", "receipt", ...(offline ? ["--offline"] : []), "--broker-key", key, "--json", json]);
}

it("`xbus dev --smoke` starts everything, fetches one record, stops and exits 0", () => {
  // A lock left by an xbus dev that died is taken over; the run leaves none behind.
  writeFileSync(join(dir, "dev.pid"), String(spawnSync("true").pid));
  chmodSync(dir, 0o755); // as a folder made under a loose umask: xbus dev must close it

  const run = spawnSync(process.execPath, [join(root, "bin/xbus.js"), "dev", "--smoke", "--dir", dir], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/exchange [0-9a-f-]{36}: dcrc\.citizen-record for scholarship-eligibility/);
  expect(run.stdout).toContain('"date_of_birth"');
  expect(run.stdout).not.toContain('"photo_ref"');

  const dev = JSON.parse(readFileSync(join(dir, "dev.json"), "utf8"));
  // The folder, dev.json (the reviewer token) and the log index are the owner's alone (issue 19, finding 7).
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  expect(statSync(join(dir, "dev.json")).mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, "log-index.sqlite")).mode & 0o777).toBe(0o600);
  // "Who read my data", its dev identity provider and the citizens who can sign in there.
  expect(dev.citizen).toMatchObject({
    url: expect.stringMatching(/^http:\/\/localhost:\d+\/citizen\/$/),
    issuer: expect.stringMatching(/^http:\/\/localhost:\d+$/),
  });
  expect(dev.citizen.users).toHaveLength(3);
  for (const u of dev.citizen.users)
    expect(u).toEqual({
      username: expect.stringMatching(/^citizen\d$/),
      password: expect.any(String),
      subject_id: expect.stringMatching(/^\d{11}$/),
    });
  expect(dev).toMatchObject({
    broker: expect.stringMatching(/^localhost:\d+$/),
    nats: expect.stringMatching(/^nats:\/\/127\.0\.0\.1:\d+$/),
    ca: join(dir, "certs/ca.pem"),
    ca_dir: join(dir, "ca"),
    crl: join(dir, "ca/crl.pem"),
    consumer: {
      spiffe_id: "spiffe://gov.bt/agency/moe/system/scholarships",
      cert: join(dir, "certs/consumer.pem"),
      key: join(dir, "certs/consumer-key.pem"),
    },
    sample_subject_id: expect.stringMatching(/^\d{11}$/),
    service: "dcrc.citizen-record",
    purpose: "scholarship-eligibility",
  });
  expect(run.stdout).toContain("released: name, date_of_birth");
  expect(existsSync(join(dir, "dev.pid"))).toBe(false);
  // The receipt it printed checks out with the command printed beside it.
  const check = checkPrintedReceipt(run.stdout);
  expect(check.stdout).toMatch(/^ok: leaf 0 of gov\.bt\/xbus-log-dev, signed by the broker/);
  expect(check.status).toBe(0);
  // The child has 60 s (spawnSync above); the test must not give up before it on a loaded machine.
}, 60_000);

it("`xbus dev` refuses a folder another xbus dev is using, and touches nothing in it", () => {
  const busy = mkdtempSync(join(tmpdir(), "xbus-dev-busy-"));
  try {
    writeFileSync(join(busy, "dev.pid"), String(process.pid)); // a live process
    const run = spawnSync(process.execPath, [join(root, "bin/xbus.js"), "dev", "--smoke", "--dir", busy], {
      cwd: root,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.stderr).toBe(
      `xbus dev: ${busy} is in use by another xbus dev (pid ${process.pid}): stop it, or give this one another --dir\n`,
    );
    expect(run.status).toBe(1);
    expect(existsSync(join(busy, "dev.json"))).toBe(false);
    expect(existsSync(join(busy, "certs"))).toBe(false);
    expect(readFileSync(join(busy, "dev.pid"), "utf8")).toBe(String(process.pid));
  } finally {
    rmSync(busy, { recursive: true, force: true });
  }
});

it("`xbus dev` shows one exchange as it starts, and its receipt checks out", async () => {
  const devDir = mkdtempSync(join(tmpdir(), "xbus-dev-up-"));
  try {
    const dev = spawnXbus(["dev", "--dir", devDir], "warn");
    await dev.waitFor((out) => out.includes("Ctrl-C stops everything"), "the ready text");
    expect(dev.stdout()).toMatch(
      /One exchange, done now.*\n {2}exchange [0-9a-f-]{36}: dcrc\.citizen-record for scholarship-eligibility\n {2}released: name,/,
    );
    const check = checkPrintedReceipt(dev.stdout());
    expect(check.stdout).toMatch(/^ok: leaf 0 of gov\.bt\/xbus-log-dev/);
    expect(check.status).toBe(0);
    dev.child.kill("SIGTERM");
    expect(await dev.exited).toBe(0);
    expect(existsSync(join(devDir, "dev.pid"))).toBe(false);
  } finally {
    rmSync(devDir, { recursive: true, force: true });
  }
}, 60_000);
