/*
 * Released field paths as a tree: what the field mask clears by and the wire
 * scan checks against. Its own module so the two share it without importing
 * each other.
 */

/** Released paths as a tree of proto field names; `true` releases a field and all below it. */
export type FieldTree = Map<string, FieldTree | true>;

export function buildTree(paths: Iterable<string>): FieldTree {
  const root: FieldTree = new Map();
  for (const path of paths) {
    let node = root;
    const parts = path.split(".");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      const existing = node.get(part);
      if (existing === true) break; // an ancestor is released whole
      if (i === parts.length - 1) {
        node.set(part, true);
        break;
      }
      const child: FieldTree = existing ?? new Map();
      node.set(part, child);
      node = child;
    }
  }
  return root;
}

const trees = new Map<string, FieldTree>();
const TREES_KEPT = 512;

/**
 * buildTree for the released fields of a decision, remembered: policy releases
 * the same few field lists again and again, and the exchange path needs the
 * tree for every record. The tree is shared: read it, never change it.
 */
export function releasedTree(paths: readonly string[]): FieldTree {
  const key = paths.join("\n");
  let tree = trees.get(key);
  if (!tree) {
    if (trees.size >= TREES_KEPT) trees.clear();
    tree = buildTree(paths);
    trees.set(key, tree);
  }
  return tree;
}
