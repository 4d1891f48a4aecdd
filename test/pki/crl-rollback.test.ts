import { readFileSync, writeFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCrl } from "../../certs/index.js";
import type { ServiceClient } from "../../core/rpc/index.js";
import type { Exchange } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * CRLs only move forward (issue 19, finding 6). An attacker who can write the
 * CRL file but not sign one writes an older, genuine CRL over the current one,
 * from before a revocation: signed by the federation CA, so it verifies. The
 * running broker must refuse it, log why, and keep the revocation in force on
 * open connections and at the handshake.
 */
const SERVICE = "dcrc.citizen-record";
const PURPOSE = "scholarship-eligibility";

let stack: TestStack;
let subject: string;
const logs: string[] = [];

beforeAll(async () => {
  stack = await startTestStack({ onLog: (l) => logs.push(l) });
  subject = stack.population.citizens[0]?.id ?? "";
});
afterAll(async () => {
  await stack?.close();
});

/** A client on a connection of its own. */
const connection = (identity: { cert: string; key: string }) =>
  stack.client(identity, stack.ca.certPem, { ownConnection: true });

const fetch = (c: ServiceClient<typeof Exchange.method>) =>
  c.fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline());

describe("an older genuine CRL written over the current one", () => {
  it("is refused and logged; the revocation stays, on open connections and new ones", async () => {
    const cert = stack.issueIdentity("rolled-back", {
      role: "system",
      spiffeId: "spiffe://gov.bt/agency/moe/system/rolled-back",
    });
    const open = connection(cert);
    // Through TLS and identity before the revocation: policy is as far as it gets.
    expect((await failure(fetch(open))).reason).toBe("POLICY_DENIED");
    const older = readFileSync(stack.crlPath, "utf8");

    stack.caDir.revoke({ serial: cert.serial }, "keyCompromise");
    expect(stack.reloadCrl()).toBe(true);
    const current = readFileSync(stack.crlPath, "utf8");
    expect((await failure(fetch(open))).reason).toBe("CERT_REVOKED");
    const numberOf = (pem: string) => parseCrl(pem, stack.ca.certPem).number ?? 0;
    // Genuine: it verifies against the CA, it is just older.
    expect(numberOf(older)).toBeLessThan(numberOf(current));

    writeFileSync(stack.crlPath, older);
    expect(stack.reloadCrl()).toBe(false);
    const refusal = logs
      .map((l) => JSON.parse(l))
      .find((l) => /CRL refused: its number is not higher/.test(l.msg));
    expect(refusal).toMatchObject({ crl_number: numberOf(older), highest_seen: numberOf(current) });

    const onOpen = await failure(fetch(open));
    expect(onOpen.code).toBe(status.UNAUTHENTICATED);
    expect(onOpen.reason).toBe("CERT_REVOKED");
    const before = stack.outcomes.length;
    // A new connection: the TLS context still holds the current CRL, so the handshake fails.
    const onNew = await failure(fetch(connection(cert)));
    expect(onNew.code).toBe(status.UNAVAILABLE);
    expect(stack.outcomes.length).toBe(before);

    // The CA's next CRL, numbered on, is taken again.
    stack.caDir.publishCrl();
    expect(stack.reloadCrl()).toBe(true);
    expect((await failure(fetch(open))).reason).toBe("CERT_REVOKED");
  });
});
