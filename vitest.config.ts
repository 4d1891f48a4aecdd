import { defineConfig } from "vitest/config";

/**
 * Tests that need no network, no child process and no worker: `npm run test:unit` runs these alone
 * in seconds, under a guard (test/helpers/no-network.ts) that fails any test here that opens a
 * socket or starts a process — move such a test out of this list, to the end-to-end project.
 */
const UNIT = [
  "core/{contract,minimise,rpc,signing}/**/*.test.ts",
  "core/{ids,logger}.test.ts",
  "core/telemetry/keep-errors.test.ts",
  "policies/**/*.test.ts",
  "verifier/{checkpoint,consistency,verify}.test.ts",
  "broker/exchange/{rate-limiter,reply-check}.test.ts",
  "broker/indexer/merkle-store.test.ts",
  "broker/review/{accesses,alert-options,checkpoint,alerts,burst-detector,exchanges,http-errors,log-entries,log-proofs,off-hours,params,stats,ui,ui-assets}.test.ts",
  "broker/review/ui/*.test.ts",
  "broker/citizen/{app,embargo,notifier,sessions}.test.ts",
  "certs/issue.test.ts",
  "certs/crl-watcher.test.ts",
  "adapters/examples/examples.test.ts",
  "bench/record.test.ts",
  "bench/witness-latency.test.ts",
  "test/bench/report.test.ts",
  "cli/commands/bench-args.test.ts",
  "test/layers.test.ts",
  "cli/user-file.test.ts",
  "cli/password-prompt.test.ts",
  "cli/commands/help.test.ts",
];
const EXCLUDE = ["node_modules/**", "dist/**", ".xbus/**"];

export default defineConfig({
  test: {
    // dist/ built once before any test spawns `xbus` (bin/xbus.js runs the compiled CLI).
    globalSetup: ["test/helpers/build-dist.ts"],
    // Each end-to-end file starts its own nats-server and TLS servers; two cores, so two files at once.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: UNIT, exclude: EXCLUDE, setupFiles: ["test/helpers/no-network.ts"] },
      },
      { extends: true, test: { name: "e2e", include: ["**/*.test.ts"], exclude: [...EXCLUDE, ...UNIT] } },
    ],
  },
});
