import { createWriteStream } from "node:fs";
import { Command } from "commander";
import { exportLog } from "../../../verifier/index.js";
import { act, type Run } from "../command.js";
import { type ApiFlags, api, apiOptions } from "./api-options.js";
import { progressTo } from "./progress.js";

export function exportCommand(run: Run): Command {
  const cmd = apiOptions(
    new Command("export")
      .summary("the signed tree head and every entry, as JSON lines")
      .description(
        "Exports the log from the review API: its signed tree head, then every entry up to it, one JSON " +
          "line each; `xbus log verify --file` checks such an export offline.",
      )
      .option("--out <file>", "write there (default stdout)"),
  );
  return act<ApiFlags & { out?: string }>(run, cmd, async (o) => {
    const out = o.out ? createWriteStream(o.out) : undefined;
    const write = out ? (text: string) => void out.write(text) : run.io.out;
    let n = 0;
    for await (const line of exportLog(api(o), progressTo(run.io))) {
      write(`${JSON.stringify(line)}\n`);
      n++;
    }
    if (out) await new Promise<void>((r) => out.end(() => r()));
    run.io.err(`${process.stderr.isTTY ? "\n" : ""}exported ${n - 1} entries and 1 tree head\n`);
    return 0;
  });
}
