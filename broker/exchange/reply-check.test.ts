import { createPrivateKey } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { createCa, issueCertificate } from "../../certs/index.js";
import { parseServiceName } from "../../core/contract/index.js";
import { XbusError } from "../../core/index.js";
import { batchedToFields, createReplySigner, sha256 } from "../../core/signing/index.js";
import { ProviderSignatureSchema } from "../../proto/gen/xbus/v1/route_pb.js";
import { createReplyCheck, type ReplyToCheck } from "./reply-check.js";

/* The broker's check of a provider's reply signature, each refusal on its own (the e2e suite plays the attacks). */
const ca = createCa({ trustDomain: "gov.bt", commonName: "federation CA" });
const other = createCa({ trustDomain: "gov.bt", commonName: "another CA" });
const connector = (agency: string, issuer = ca) =>
  issueCertificate(issuer, {
    spiffeId: `spiffe://gov.bt/agency/${agency}/connector/c1`,
    commonName: `${agency} connector`,
    usage: "client",
  });
const dcrc = connector("dcrc");
const service = parseServiceName("dcrc.citizen-record");
const typeUrl = "type.googleapis.com/agencies.dcrc.v1.CitizenRecord";
const recordSha256 = sha256(Buffer.from("a record"));

async function reply(cert = dcrc, exchangeId = "ex-1"): Promise<ReplyToCheck> {
  const s = createReplySigner(cert.certPem, createPrivateKey(cert.keyPem));
  const fields = batchedToFields(await s.sign({ exchangeId, typeUrl, recordSha256 }));
  return {
    exchangeId,
    service,
    typeUrl,
    recordSha256,
    certificate: s.certificate,
    signature: create(ProviderSignatureSchema, {
      signer: s.signer,
      certificateSha256: s.certificateSha256,
      recordSha256,
      ...fields,
      delegatedKey: s.delegatedKey,
      delegation: s.delegation,
    }),
  };
}

const revoked = new Set<string>();
const check = createReplyCheck({
  trustBundle: () => ca.certPem,
  isRevoked: (serial) => revoked.has(serial),
  trustDomain: "gov.bt",
});
const why = (p: Promise<unknown>) =>
  p.then(
    () => "accepted",
    (e: unknown) => (e instanceof XbusError ? `${e.reason}: ${e.message}` : String(e)),
  );

describe("reply signatures", () => {
  it("accepts a reply its agency's connector signed, and hands back the signature to log", async () => {
    const r = await reply();
    expect(await check(r)).toBe(r.signature);
    // The certificate is kept by its hash: a later reply may leave it out.
    expect(await check({ ...(await reply(dcrc, "ex-2")), certificate: new Uint8Array() })).toBeDefined();
  });

  it("refuses an unsigned reply unless migration allows it", async () => {
    const unsigned = { ...(await reply()), signature: undefined };
    expect(await why(check(unsigned))).toMatch(/^PROVIDER_BAD_RECORD: .*did not sign/);
    const lenient = createReplyCheck({
      trustBundle: () => ca.certPem,
      isRevoked: () => false,
      trustDomain: "gov.bt",
      allowUnsigned: true,
    });
    expect(await lenient(unsigned)).toBeUndefined();
  });

  it("refuses a signature over another exchange or record", async () => {
    const r = await reply(dcrc, "ex-3");
    expect(await why(check({ ...r, exchangeId: "ex-4" }))).toContain("does not verify");
    expect(await why(check({ ...r, recordSha256: sha256(Buffer.from("another")) }))).toContain(
      "hash differs",
    );
  });

  it("refuses a certificate another CA issued, another agency's, or a revoked one", async () => {
    expect(await why(check(await reply(connector("dcrc", other))))).toContain("did not issue");
    expect(await why(check(await reply(connector("moh"))))).toContain("another agency than dcrc");
    const gone = connector("dcrc");
    const r = await reply(gone);
    expect(await check(r)).toBeDefined();
    revoked.add(gone.serial.toUpperCase());
    expect(await why(check(r))).toContain("revoked");
  });

  it("refuses a certificate that is not the one named, and oversized fields", async () => {
    const r = await reply();
    const moh = await reply(connector("moh"));
    expect(
      await why(
        check({
          ...r,
          signature: { ...r.signature, certificateSha256: new Uint8Array(32) } as never,
          certificate: moh.certificate,
        }),
      ),
    ).toContain("other than the one");
    const huge = { ...r, signature: { ...r.signature, signer: "x".repeat(1_000_000) } as never };
    expect(await why(check(huge))).toContain("malformed");
  });
});
