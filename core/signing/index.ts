/**
 * Signatures on the exchange path: routes (broker → connector), replies (connector → broker), receipts in batches; Ed25519 raw keys.
 */

export type { BatchedSignature, BatchProof } from "./batch-signature.js";
export {
  batchedFromFields,
  batchedToFields,
  batchRootSignedBytes,
  batchSignedBytes,
  decodeBatchedSignature,
  encodeBatchedSignature,
  MAX_BATCH,
  verifyBatchedSignature,
} from "./batch-signature.js";
export { ed25519FromRaw, rawEd25519 } from "./ed25519-raw.js";
export type { ReplySignatureEvidence, ReplySignatureInput, ReplySigner } from "./reply-signature.js";
export {
  createReplySigner,
  replySignedBytes,
  sha256,
  verifyDelegation,
  verifyReply,
  verifyReplyDirect,
} from "./reply-signature.js";
export type { RouteSignatureInput, RouteVerifier } from "./route-signature.js";
export { createRouteVerifier, RouteMetadata, signRoute } from "./route-signature.js";
export { createBatchVerifier, signBatched, signEd25519, verifyEd25519 } from "./sign-async.js";
