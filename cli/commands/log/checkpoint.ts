import { Command } from "commander";
import { readDevJson } from "../../../stack/index.js";
import { openCheckpoint } from "../../../verifier/index.js";
import { act, type Run, UsageError } from "../command.js";
import { type ApiFlags, api, apiOptions } from "./api-options.js";

interface CheckpointFlags extends ApiFlags {
  vkey?: string;
}

/** The log's verifier key: --vkey, else dev.json's log_vkey; refused when neither is there. */
export function logVkeyOf(flag: string | undefined): string {
  const vkey = flag ?? readDevJson().log_vkey;
  if (!vkey)
    throw new UsageError("no log verifier key: pass --vkey (the log's vkey, as `xbus dev` prints it)");
  return vkey;
}

export function checkpointCommand(run: Run): Command {
  const cmd = apiOptions(
    new Command("checkpoint")
      .summary("fetch the log's C2SP checkpoint, check it against the log's vkey and print both")
      .description(
        "Fetches GET /checkpoint (no token needed), opens it as a C2SP signed note with the log's verifier " +
          "key and prints the checkpoint and the vkey it verified with. Exit 1 if it does not verify.",
      )
      .option("--vkey <vkey>", "the log's verifier key (default: log_vkey of .xbus/dev/dev.json)"),
  );
  return act<CheckpointFlags>(run, cmd, async (o) => {
    const vkey = logVkeyOf(o.vkey);
    const note = await api(o).text("/checkpoint");
    const opened = openCheckpoint(note, { logVkey: vkey });
    if (!opened.ok) {
      run.io.out(`FAIL: ${opened.problem}\n`);
      return 1;
    }
    const { origin, size, rootHash } = opened.checkpoint;
    run.io.out(
      `ok: checkpoint of ${origin}, size ${size}, root ${rootHash.toString("hex")}\nvkey ${vkey}\n\n${note}`,
    );
    return 0;
  });
}
