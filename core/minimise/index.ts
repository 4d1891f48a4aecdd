/**
 * Minimisation: field masks over record types and the wire scan that proves a reply carries only released fields.
 */

export type { FieldTree } from "./field-mask.js";
export { buildTree, releasedBytes, releasedTree, retainFields } from "./field-mask.js";
export { passesAsReleased } from "./wire-scan.js";
