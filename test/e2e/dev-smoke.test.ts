import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "xbus-dev-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("`xbus dev --smoke` starts everything, fetches one record, stops and exits 0", () => {
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
  // The child has 60 s (spawnSync above); the test must not give up before it on a loaded machine.
}, 60_000);
