import { createPrivateKey } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { Msg } from "@nats-io/transport-node";
import { RouteHeader } from "../../core/nats/index.js";
import { batchedToFields, createReplySigner, type ReplySigner, sha256 } from "../../core/signing/index.js";
import { RouteReplySchema } from "../../proto/gen/xbus/v1/route_pb.js";

/*
 * A connector played by a test: someone holding a connector's certificate and key who answers routes
 * off NATS with whatever record it likes, signed as a real connector signs (or not).
 */
const signers = new Map<string, ReplySigner>();

export function signerOf(identity: { cert: string; key: string }): ReplySigner {
  let s = signers.get(identity.cert);
  if (!s) {
    s = createReplySigner(identity.cert, createPrivateKey(identity.key));
    signers.set(identity.cert, s);
  }
  return s;
}

/** A RouteReply carrying `record` for the route in `m`, signed by `identity` (unsigned when null). */
export async function recordReply(
  m: Msg,
  record: Any,
  identity: { cert: string; key: string } | null,
  tamper: { signature?: Uint8Array } = {},
): Promise<Uint8Array> {
  if (!identity)
    return toBinary(
      RouteReplySchema,
      create(RouteReplySchema, { result: { case: "record", value: record } }),
    );
  const s = signerOf(identity);
  const exchangeId = m.headers?.get(RouteHeader.exchangeId) ?? "";
  const recordSha256 = sha256(record.value);
  const fields = batchedToFields(await s.sign({ exchangeId, typeUrl: record.typeUrl, recordSha256 }));
  return toBinary(
    RouteReplySchema,
    create(RouteReplySchema, {
      result: { case: "record", value: record },
      providerSignature: {
        signer: s.signer,
        certificateSha256: s.certificateSha256,
        recordSha256,
        ...fields,
        ...(tamper.signature
          ? { signature: tamper.signature, batchIndex: 0, batchSize: 0, batchPath: [] }
          : {}),
        delegatedKey: s.delegatedKey,
        delegation: s.delegation,
      },
      signerCertificate: s.certificate,
    }),
  );
}
