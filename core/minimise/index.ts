/**
 * Minimisation: field masks over record types and the wire scan that proves a reply carries only released fields.
 */
export { releasedBytes, retainFields } from "./field-mask.js";
export type { FieldTree } from "./field-tree.js";
export { buildTree, releasedTree } from "./field-tree.js";
export { passesAsReleased } from "./wire-scan.js";
