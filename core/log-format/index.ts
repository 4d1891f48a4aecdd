/**
 * The log's format, shared by writer and verifier and nothing else: leaf and node hashes (RFC 9162), the bytes a tree head and a receipt sign.
 */
export {
  EMPTY_ROOT,
  leafHash,
  nodeHash,
  receiptSignedBytes,
  rootFromInclusion,
  treeHeadSignedBytes,
  treeWithPaths,
} from "./merkle-hash.js";
