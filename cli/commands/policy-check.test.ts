import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/helpers/run-cli.js";

const dir = mkdtempSync(join(tmpdir(), "xbus-policy-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BUNDLE = `purposes:
  - id: care
    legal_basis: act
grants:
  - id: on-fields
    consumer_agency: rbp
    service: dcrc.citizen-record
    purposes: [care]
    fields: [name, address]
    condition: '!("address.village" in fields)'
`;

describe("xbus policy check", () => {
  it("warns on a condition over the requested fields on stderr, and still exits 0", async () => {
    writeFileSync(join(dir, "b.yaml"), BUNDLE);
    const { code, out, err } = await runCli(["policy", "check", "--dir", dir]);
    expect(code).toBe(0);
    expect(err).toMatch(/^warning: b\.yaml:\d+: grant on-fields: the condition reads `fields`/);
    expect(err).toContain("use `released`");
    expect(out).toMatch(/^ok: 1 purposes, 1 grants/);
  });
});
