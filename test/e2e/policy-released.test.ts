import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * A grant's condition over `released` through the real stack: the village of an address must never
 * leave the bus under this grant, and asking for the parent path or for nothing does not get it out
 * (`released` holds leaf paths). A rule on `fields` would have let both through.
 */
const SERVICE = "dcrc.citizen-record";
const CASES = "spiffe://gov.bt/agency/rbp/system/cases";
const BUNDLE = `purposes:
  - id: case-work
    legal_basis: test act 1
grants:
  - id: no-village
    consumer: ${CASES}
    service: ${SERVICE}
    purposes: [case-work]
    fields: [name, address]
    condition: '!("address.village" in released)'
`;

let stack: TestStack;
let dir: string;
let subject: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "xbus-policies-released-"));
  writeFileSync(join(dir, "grants.yaml"), BUNDLE);
  stack = await startTestStack({ policiesDir: dir });
  subject = stack.population.citizens[0]?.id ?? "";
});
afterAll(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a condition over released", () => {
  it("denies an exchange that would release the leaf, however it is asked for, and allows one that avoids it", async () => {
    const cases = stack.client(
      stack.issue("cases", { spiffeId: CASES, commonName: "cases", usage: "client" }),
    );
    const ask = (fields: string[]) =>
      cases.fetch({ service: SERVICE, subjectId: subject, purpose: "case-work", fields }, deadline());

    for (const fields of [["address.village"], ["address"], []]) {
      const denied = await failure(ask(fields));
      expect(denied.code, fields.join(",")).toBe(status.PERMISSION_DENIED);
      expect(denied.reason, fields.join(",")).toBe("POLICY_DENIED");
      expect(denied.details, fields.join(",")).toContain(
        'condition is false: !("address.village" in released)',
      );
      expect(stack.outcomes.at(-1), fields.join(",")).toMatchObject({
        decision: "deny",
        status: "POLICY_DENIED",
        fieldsRequested: fields,
        fieldsReleased: [],
      });
    }

    const ok = await ask(["name", "address.gewog"]);
    expect(ok.releasedFields).toEqual(["name", "address.gewog"]);
    expect(stack.outcomes.at(-1)).toMatchObject({ decision: "allow" });
  });
});
