/**
 * The independent log verifier: checks trees, tree heads, consistency, receipts and exports, and a log from its public checkpoint and hash tiles alone, and remembers a monitor's last verified head. It shares only the log format (core/log-format, core/signing's receipt rules) with the writer, so a bug in the writer cannot hide itself here.
 */

export type { CheckpointTrust, OpenedCheckpoint, OpenResult } from "./checkpoint.js";
export { openCheckpoint } from "./checkpoint.js";
export type { CheckpointState } from "./checkpoint-state.js";
export { readCheckpointState, writeCheckpointState } from "./checkpoint-state.js";
export type { Growth, HeadPair, ProofSource } from "./consistency.js";
export { compareHeads, proofsFrom, proveGrowth } from "./consistency.js";
export type { ExportLine } from "./export.js";
export { exportLog } from "./export.js";
export type { CheckpointMonitorOptions, CheckpointMonitorResult } from "./monitor-checkpoint.js";
export { checkServedCheckpoint, rememberedVkeyProblem } from "./monitor-checkpoint.js";
export type { MonitorState, Remembered, RememberedCheckpoint } from "./monitor-state.js";
export { readMonitorState, writeMonitorState } from "./monitor-state.js";
export type { ReceiptCheck } from "./receipt.js";
export { checkReceipt } from "./receipt.js";
export type { EntryJson, ReviewClient, ReviewTextClient, TreeHeadJson } from "./review-client.js";
export { reviewClient } from "./review-client.js";
export { fromTiles, MissingTile, TileHashes } from "./tile-hashes.js";
export type { TlogProofResult } from "./tlog-proof.js";
export { verifyTlogProof } from "./tlog-proof.js";
export type { Expected, HeadTrust } from "./tree-head.js";
export { isRawKeyBase64, treeHeadProblem } from "./tree-head.js";
export type { VerifyOptions, VerifyResult } from "./verify.js";
export { pinnedTrust, rememberedProblem, verifyExport } from "./verify.js";
export type { LiveVerifyResult } from "./verify-live.js";
export { verifyLive } from "./verify-live.js";
export type { TilesVerifyResult } from "./verify-tiles.js";
export { tileFetcher, verifyFromTiles } from "./verify-tiles.js";
export { rootFromLeafHashes, rootFromLeaves, verifyConsistency, verifyInclusion } from "./verify-tree.js";
export type { WitnessPolicy } from "./witness-policy.js";
export { parseWitnessPolicy } from "./witness-policy.js";
