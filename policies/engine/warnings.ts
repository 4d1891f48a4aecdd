import type { PolicyBundle } from "./bundle.js";

/**
 * What `xbus policy check` warns about in a bundle that checks: things that are valid but unsafe.
 * A condition that reads `fields` is one: that list is what the consumer asked for, so asking for a
 * parent path (`address` for `address.village`) or for nothing (the whole ceiling) passes a rule on
 * it; `released` lists the leaf fields that would leave the bus.
 */
export function bundleWarnings(bundle: PolicyBundle): string[] {
  const warnings: string[] = [];
  for (const g of bundle.grants) {
    if (!g.condition?.reads.has("fields")) continue;
    warnings.push(
      `${g.source}: grant ${g.id}: the condition reads \`fields\`, the paths the consumer requested; ` +
        "the consumer controls that list (a parent path or none at all releases the whole ceiling), " +
        "so use `released`, the leaf fields that leave the bus",
    );
  }
  return warnings;
}
