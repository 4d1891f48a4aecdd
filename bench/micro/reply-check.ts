import { createPrivateKey } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { createReplyCheck } from "../../broker/exchange/reply-check.js";
import { createCa, issueCertificate } from "../../certs/index.js";
import { parseServiceName } from "../../core/contract/index.js";
import { batchedToFields, createReplySigner, sha256 } from "../../core/signing/index.js";
import { ProviderSignatureSchema } from "../../proto/gen/xbus/v1/route_pb.js";
import type { MicroBenchmark } from "./registry.js";

const IN_FLIGHT = 64;

/**
 * Every record a provider returns is signed by its connector and checked by
 * the broker against the connector's certificate before anything is released
 * (broker/exchange/reply-check.ts; issue 19). The certificate's chain and the
 * delegated key's binding are checked once and kept; per reply the broker checks
 * revocation, the signer's agency and the Ed25519 signature, once per batch
 * root. 64 pairs in flight at once, as under load: µs/op is the wall time per
 * pair (connector signs + broker checks), not the latency of one.
 */
export const benchmarks: MicroBenchmark[] = [
  {
    name: `reply signature: connector signs + broker checks against its certificate (${IN_FLIGHT} in flight)`,
    setup() {
      const ca = createCa({ trustDomain: "gov.bt", commonName: "bench CA" });
      const cert = issueCertificate(ca, {
        spiffeId: "spiffe://gov.bt/agency/dcrc/connector/bench",
        commonName: "dcrc connector",
        usage: "client",
      });
      const signer = createReplySigner(cert.certPem, createPrivateKey(cert.keyPem));
      const check = createReplyCheck({
        trustBundle: () => ca.certPem,
        isRevoked: () => false,
        trustDomain: "gov.bt",
      });
      const service = parseServiceName("dcrc.citizen-record");
      const typeUrl = "type.googleapis.com/agencies.dcrc.v1.CitizenRecord";
      const recordSha256 = sha256(Buffer.from("a record of a few hundred bytes"));
      let n = 0;
      const pair = async () => {
        const exchangeId = `01930000-0000-7000-8000-${String(n++).padStart(12, "0")}`;
        const signature = create(ProviderSignatureSchema, {
          signer: signer.signer,
          certificateSha256: signer.certificateSha256,
          recordSha256,
          ...batchedToFields(await signer.sign({ exchangeId, typeUrl, recordSha256 })),
          delegatedKey: signer.delegatedKey,
          delegation: signer.delegation,
        });
        await check({
          exchangeId,
          service,
          typeUrl,
          recordSha256,
          signature,
          certificate: signer.certificate,
        });
      };
      return {
        async run() {
          await Promise.all(Array.from({ length: IN_FLIGHT }, pair));
          return IN_FLIGHT;
        },
      };
    },
  },
];
