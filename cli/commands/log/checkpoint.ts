import { Command } from "commander";
import { readDevJson } from "../../../stack/index.js";
import { openCheckpoint, parseWitnessPolicy, type WitnessPolicy } from "../../../verifier/index.js";
import { readUserFile } from "../../user-file.js";
import { act, type Run, UsageError } from "../command.js";
import { type ApiFlags, apiOptions, publicApi } from "./api-options.js";

interface CheckpointFlags extends ApiFlags {
  vkey?: string;
  policy?: string;
}

/** The log's verifier key: --vkey, else dev.json's log_vkey; refused when neither is there. */
export function logVkeyOf(flag: string | undefined): string {
  const vkey = flag ?? readDevJson().log_vkey;
  if (!vkey)
    throw new UsageError("no log verifier key: pass --vkey (the log's vkey, as `xbus dev` prints it)");
  return vkey;
}

/**
 * The witness policy a checkpoint must meet: --policy FILE, else (when the log's vkey also comes from
 * dev.json) dev.json's witness_policy; none when neither is there.
 */
export function witnessPolicyOf(
  flag: string | undefined,
  vkeyFlag: string | undefined,
): WitnessPolicy | undefined {
  const path = flag ?? (vkeyFlag === undefined ? readDevJson().witness_policy : undefined);
  if (path === undefined) return undefined;
  const text = readUserFile(path, "utf8");
  try {
    return parseWitnessPolicy(text);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

export function checkpointCommand(run: Run): Command {
  const cmd = apiOptions(
    new Command("checkpoint")
      .summary("fetch the log's C2SP checkpoint, check it against the log's vkey and print both")
      .description(
        "Fetches GET /checkpoint (no token needed: --url is enough), opens it as a C2SP signed note with the log's verifier " +
          "key and, with a witness policy, checks its cosignatures meet the quorum; prints the checkpoint, the " +
          "vkey it verified with and who cosigned it when. Exit 1 if it does not verify.",
      )
      .option("--vkey <vkey>", "the log's verifier key (default: log_vkey of .xbus/dev/dev.json)")
      .option(
        "--policy <file>",
        "a C2SP tlog-policy the cosignatures must meet (default, without --vkey: witness_policy of dev.json)",
      ),
  );
  return act<CheckpointFlags>(run, cmd, async (o) => {
    const vkey = logVkeyOf(o.vkey);
    const note = await publicApi(o).text("/checkpoint");
    const policy = witnessPolicyOf(o.policy, o.vkey);
    const opened = openCheckpoint(note, { logVkey: vkey, policy });
    if (!opened.ok) {
      run.io.out(`FAIL: ${opened.problem}\n`);
      return 1;
    }
    const { origin, size, rootHash } = opened.checkpoint;
    run.io.out(
      `ok: checkpoint of ${origin}, size ${size}, root ${rootHash.toString("hex")}${cosignedBy(opened.cosigned)}\nvkey ${vkey}\n\n${note}`,
    );
    return 0;
  });
}

/** `, cosigned by W1 at <ISO time>, …` for an ok line; empty when none was checked. */
export function cosignedBy(cosigned: readonly { name: string; time: number }[]): string {
  return cosigned.length
    ? `, cosigned by ${cosigned.map((c) => `${c.name} at ${new Date(c.time * 1000).toISOString()}`).join(", ")}`
    : "";
}
