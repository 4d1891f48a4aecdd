/**
 * The log's format, shared by writer and verifier and nothing else: leaf and node hashes (RFC 9162), the bytes a tree head and a receipt sign, and the C2SP formats (signed notes, checkpoints, cosignatures, tlog-proof, tile paths).
 */
export type { Checkpoint } from "./checkpoint.js";
export {
  checkpointText,
  cosignatureLine,
  cosignatureSignedBytes,
  cosignerVkey,
  logVkey,
  parseCheckpointText,
  signCheckpoint,
} from "./checkpoint.js";
export {
  EMPTY_ROOT,
  leafHash,
  nodeHash,
  receiptSignedBytes,
  rootFromInclusion,
  treeHeadSignedBytes,
  treeWithPaths,
} from "./merkle-hash.js";
export type { Note, NoteSignature, Vkey } from "./signed-note.js";
export {
  encodeVkey,
  isKeyName,
  MAX_NOTE_SIGNATURES,
  noteKeyId,
  parseNote,
  parseSignatureLine,
  parseVkey,
  SIG_COSIGNATURE_V1,
  SIG_ED25519,
  signatureLine,
  signNote,
} from "./signed-note.js";
export type { TileRef } from "./tile-path.js";
export {
  MAX_TILE_INDEX,
  MAX_TILE_LEVEL,
  parseTilePath,
  TILE_HEIGHT,
  TILE_WIDTH,
  TilePathError,
  tilePath,
} from "./tile-path.js";
export type { TlogProof } from "./tlog-proof.js";
export { formatTlogProof, parseTlogProof, TLOG_PROOF_HEADER } from "./tlog-proof.js";
