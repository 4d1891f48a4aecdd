import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * Starts a worker thread on a module of this repository, given by its `.ts`
 * URL. The sources run as TypeScript (tsx for `xbus` and the bench, vitest's
 * own transform for the tests), but a worker starts with a bare Node module
 * loader: on Node 20 tsx registers itself in the main thread only, and vitest's
 * transform never leaves its thread. So the worker starts on a small bootstrap
 * that registers tsx in the worker itself and then imports the entry. Compiled
 * (`npm run build`), this file is `.js` and the entry's `.js` sibling is started
 * directly.
 */
export function startWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (!import.meta.url.endsWith(".ts"))
    return new Worker(new URL(entry.href.replace(/\.ts$/, ".js")), options);
  return new Worker(new URL("./ts-worker-bootstrap.mjs", import.meta.url), {
    ...options,
    argv: [...(options.argv ?? []), entry.href],
  });
}
