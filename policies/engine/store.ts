import { type FSWatcher, watch } from "node:fs";
import type { Catalogue } from "../../core/contract/index.js";
import type { Logger } from "../../core/index.js";
import { BundleError, loadBundle, type PolicyBundle } from "./bundle.js";

/** Where the broker reads the bundle in force; read once per exchange so a reload never splits one. */
export interface PolicySource {
  current(): PolicyBundle;
}

export type ReloadResult =
  | { readonly ok: true; readonly bundle: PolicyBundle; readonly changed: boolean }
  | { readonly ok: false; readonly problems: readonly string[] };

export interface PolicyStore extends PolicySource {
  /** Reads the folder again now; a bundle that does not check is refused and the one in force stays. */
  reload(): ReloadResult;
  /** Resolves with the outcome of the next reload (from a file change or `reload`). */
  nextReload(): Promise<ReloadResult>;
  close(): void;
}

export interface PolicyStoreOptions {
  dir: string;
  catalogue: Catalogue;
  trustDomain: string;
  logger: Logger;
  /** Watch the folder and reload on change. Default true. */
  watch?: boolean;
  /** Quiet time after the last change before reading, so an editor's save is read once. Default 150 ms. */
  debounceMs?: number;
}

/**
 * The bundle in force, reloaded when files in the folder change (fs.watch +
 * debounce, then read, check and swap in one assignment). The first load
 * throws BundleError: a broker does not start without a bundle.
 */
export function createPolicyStore(o: PolicyStoreOptions): PolicyStore {
  const read = () => loadBundle({ dir: o.dir, catalogue: o.catalogue, trustDomain: o.trustDomain });
  let bundle = read();
  o.logger.info({ bundle_hash: bundle.hash, grants: bundle.grants.length }, "policy bundle loaded");
  let waiters: ((r: ReloadResult) => void)[] = [];

  const reload = (): ReloadResult => {
    let result: ReloadResult;
    try {
      const next = read();
      const changed = next.hash !== bundle.hash;
      if (changed) {
        o.logger.info(
          { bundle_hash: next.hash, previous: bundle.hash, grants: next.grants.length },
          "policy bundle reloaded",
        );
      }
      bundle = next;
      result = { ok: true, bundle: next, changed };
    } catch (err) {
      const problems = err instanceof BundleError ? err.problems : [(err as Error).message];
      o.logger.error(
        { problems, bundle_hash: bundle.hash },
        "policy bundle refused; the bundle in force keeps deciding",
      );
      result = { ok: false, problems };
    }
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve(result);
    return result;
  };

  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  if (o.watch !== false) {
    // Any change reloads, not only *.yaml names: a deployment that swaps a
    // symlinked folder (a Kubernetes ConfigMap) renames other entries. An
    // unchanged bundle keeps its hash, so a needless reload costs one read.
    watcher = watch(o.dir, { persistent: false }, () => {
      clearTimeout(timer);
      timer = setTimeout(reload, o.debounceMs ?? 150);
    });
    watcher.on("error", (err) => o.logger.error({ err }, "cannot watch the policy folder"));
  }

  return {
    current: () => bundle,
    reload,
    nextReload: () => new Promise((resolve) => waiters.push(resolve)),
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
