import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServiceClient } from "../../core/rpc/index.js";
import { loadBundle } from "../../policies/index.js";
import { Consent } from "../../proto/gen/xbus/v1/consent_pb.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * Per-request policy end to end, on a bundle of its own in a temp folder:
 * consent granted → allowed, revoked → denied on the very next request; a
 * grant's rate → RESOURCE_EXHAUSTED; a broken bundle dropped in while the
 * broker runs is refused and the old one keeps deciding.
 */
const SERVICE = "dcrc.citizen-record";
const PORTAL = "spiffe://gov.bt/agency/govtech/system/citizen-portal";
const EHR = "spiffe://gov.bt/agency/moh/system/ehr";
const LICENSING = "spiffe://gov.bt/agency/rsta/system/licensing";

const PURPOSES = `purposes:
  - id: scholarship-eligibility
    legal_basis: test act 1
  - id: vaccination-status
    legal_basis: test act 2
  - id: licence-renewal
    legal_basis: test act 3
consent_authorities: [${PORTAL}]
`;
const grants = (moeFields: string) => `grants:
  - id: moe
    consumer: spiffe://gov.bt/agency/moe/system/scholarships
    service: ${SERVICE}
    purposes: [scholarship-eligibility]
    fields: ${moeFields}
  - id: ehr-with-consent
    consumer: ${EHR}
    service: ${SERVICE}
    purposes: [vaccination-status]
    fields: [name, gender]
    consent: required
  - id: licensing-rated
    consumer: ${LICENSING}
    service: ${SERVICE}
    purposes: [licence-renewal]
    fields: [name]
    rate: 3/hour
    condition: consumer_agency == "rsta" && size(fields) <= 1
`;

let stack: TestStack;
let dir: string;
let subject: string;

/** Replaces a file in one step, as a deployment would, so the watcher never reads half of it. */
function put(name: string, text: string) {
  const tmp = join(tmpdir(), `xbus-policy-${process.pid}-${name}`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(dir, name));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "xbus-policies-"));
  writeFileSync(join(dir, "purposes.yaml"), PURPOSES);
  writeFileSync(join(dir, "grants.yaml"), grants("[name, date_of_birth]"));
  stack = await startTestStack({ policiesDir: dir });
  subject = stack.population.citizens[0]?.id ?? "";
});
afterAll(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function client(spiffeId: string, name: string) {
  return stack.client(stack.issue(name, { spiffeId, commonName: name, usage: "client" }));
}
function consentClient(spiffeId: string, name: string) {
  const id = stack.issue(name, { spiffeId, commonName: name, usage: "client" });
  const c = createServiceClient(
    Consent,
    stack.brokerAddress,
    credentials.createSsl(Buffer.from(stack.ca.certPem), Buffer.from(id.key), Buffer.from(id.cert)),
  );
  return c;
}

describe("consent", () => {
  it("is required, then allows, then is revoked and denies on the very next request", async () => {
    const ehr = client(EHR, "ehr");
    const portal = consentClient(PORTAL, "portal");
    try {
      const ask = (consentId = "") =>
        ehr.fetch(
          { service: SERVICE, subjectId: subject, purpose: "vaccination-status", consentId },
          deadline(),
        );

      const none = await failure(ask());
      expect(none.code).toBe(status.PERMISSION_DENIED);
      expect(none.reason).toBe("CONSENT_REQUIRED");

      const { consent } = await portal.grant(
        {
          subjectId: subject,
          consumer: EHR,
          services: [SERVICE],
          purpose: "vaccination-status",
          notAfter: BigInt(Date.now() + 3_600_000),
        },
        deadline(),
      );
      const id = consent?.id ?? "";
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(consent).toMatchObject({ grantedBy: PORTAL, revokedAt: 0n });

      const ok = await ask(id);
      expect(ok.releasedFields).toEqual(["name", "gender"]);
      expect(stack.outcomes.at(-1)).toMatchObject({ decision: "allow", consentId: id });

      const listed = await portal.listBySubject({ subjectId: subject }, deadline());
      expect(listed.consents.map((c) => c.id)).toContain(id);

      await portal.revoke({ id }, deadline());
      const revoked = await failure(ask(id));
      expect(revoked.code).toBe(status.PERMISSION_DENIED);
      expect(revoked.reason).toBe("CONSENT_INVALID");
      expect(revoked.details).toContain("revoked");
      expect((await portal.get({ id }, deadline())).consent?.revokedBy).toBe(PORTAL);
    } finally {
      portal.close();
    }
  });

  it("does not let a consent given to one consumer serve another", async () => {
    const portal = consentClient(PORTAL, "portal2");
    try {
      const { consent } = await portal.grant(
        {
          subjectId: subject,
          consumer: LICENSING,
          services: [SERVICE],
          purpose: "vaccination-status",
          notAfter: BigInt(Date.now() + 3_600_000),
        },
        deadline(),
      );
      const err = await failure(
        client(EHR, "ehr2").fetch(
          {
            service: SERVICE,
            subjectId: subject,
            purpose: "vaccination-status",
            consentId: consent?.id ?? "",
          },
          deadline(),
        ),
      );
      expect(err.reason).toBe("CONSENT_INVALID");
      expect(err.details).toContain("wrong consumer");
    } finally {
      portal.close();
    }
  });

  it("answers only the bundle's consent authorities", async () => {
    const impostor = consentClient(EHR, "ehr-as-portal");
    try {
      const err = await failure(impostor.listBySubject({ subjectId: subject }, deadline()));
      expect(err.code).toBe(status.PERMISSION_DENIED);
      expect(err.reason).toBe("NOT_CONSENT_AUTHORITY");
    } finally {
      impostor.close();
    }
  });

  it("refuses a consent for a purpose outside the catalogue, naming the field", async () => {
    const portal = consentClient(PORTAL, "portal3");
    try {
      const err = await failure(
        portal.grant(
          {
            subjectId: subject,
            consumer: EHR,
            services: [SERVICE],
            purpose: "curiosity",
            notAfter: BigInt(Date.now() + 60_000),
          },
          deadline(),
        ),
      );
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.reason).toBe("UNKNOWN_PURPOSE");
      expect(err.field).toBe("purpose");
    } finally {
      portal.close();
    }
  });

  it("ListServices says the service needs consent", async () => {
    const res = await client(EHR, "ehr3").listServices({}, deadline());
    expect(res.services).toEqual([expect.objectContaining({ service: SERVICE, consentRequired: true })]);
  });
});

describe("rates", () => {
  it("answers RESOURCE_EXHAUSTED with a retry hint once the grant's rate is spent", async () => {
    const c = client(LICENSING, "licensing");
    const ask = () =>
      c.fetch(
        { service: SERVICE, subjectId: subject, purpose: "licence-renewal", fields: ["name"] },
        deadline(),
      );
    for (let i = 0; i < 3; i++) await ask();
    const err = await failure(ask());
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.reason).toBe("RATE_LIMITED");
    expect(Number(err.metadata.get("xbus-retry-after-ms")[0])).toBeGreaterThan(0);
    expect(stack.outcomes.at(-1)).toMatchObject({ status: "RATE_LIMITED", decision: "deny" });
  });

  it("denies what the grant's condition excludes", async () => {
    const err = await failure(
      client(LICENSING, "licensing2").fetch(
        { service: SERVICE, subjectId: subject, purpose: "licence-renewal", fields: ["name", "gender"] },
        deadline(),
      ),
    );
    expect(err.reason).toBe("POLICY_DENIED");
    expect(err.details).toContain("condition is false");
  });
});

describe("hot reload", () => {
  const fetchMoe = () =>
    stack
      .client()
      .fetch({ service: SERVICE, subjectId: subject, purpose: "scholarship-eligibility" }, deadline());

  it("refuses a broken bundle dropped in while the broker runs; the old one keeps deciding", async () => {
    const before = stack.policy.current().hash;
    const next = stack.policy.nextReload();
    put(
      "broken.yaml",
      "grants:\n  - id: x\n    consumer_agency: moe\n    service: dcrc.citizen-record\n    purposes: [nope]\n    fields: [name]\n",
    );
    let r = await next;
    while (r.ok) r = await stack.policy.nextReload();
    expect(r.problems).toEqual(['broken.yaml:2: grant x: unknown purpose "nope"']);
    expect(stack.policy.current().hash).toBe(before);

    const res = await fetchMoe();
    expect(res.releasedFields).toEqual(["name", "date_of_birth"]);
    expect(stack.outcomes.at(-1)).toMatchObject({ decision: "allow", bundleHash: before });
  });

  it("takes a good change, and each decision records the hash that decided it", async () => {
    const before = stack.policy.current().hash;
    const next = stack.policy.nextReload();
    unlinkSync(join(dir, "broken.yaml"));
    put("grants.yaml", grants("[name, date_of_birth, gender]"));
    const expected = loadBundle({ dir, catalogue: stack.catalogue, trustDomain: "gov.bt" }).hash;
    let r = await next;
    while (!(r.ok && r.bundle.hash === expected)) r = await stack.policy.nextReload();
    expect(expected).not.toBe(before);

    const res = await fetchMoe();
    expect(res.releasedFields).toEqual(["name", "date_of_birth", "gender"]);
    expect(stack.outcomes.at(-1)).toMatchObject({ decision: "allow", bundleHash: expected });
  });
});
