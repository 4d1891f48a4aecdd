import type { Command } from "./command.js";

export const benchCommand: Command = {
  name: "bench",
  summary: "benchmark the bus against a bare chain (not yet)",
  async run() {
    process.stdout.write("xbus bench: not yet — the benchmark is its own issue (bus vs bare chain).\n");
    return 0;
  },
};
