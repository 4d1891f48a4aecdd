import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { Command } from "commander";
import { readDevJson } from "../../../stack/index.js";
import {
  checkServedCheckpoint,
  type ExportLine,
  proofsFrom,
  type RememberedCheckpoint,
  readMonitorState,
  rememberedVkeyProblem,
  verifyExport,
  verifyLive,
  type WitnessPolicy,
  writeMonitorState,
} from "../../../verifier/index.js";
import { checkReadable } from "../../user-file.js";
import { act, type Run, UsageError } from "../command.js";
import { type ApiFlags, api, apiOptions, publicApi } from "./api-options.js";
import { cosignedBy, witnessPolicyOf } from "./checkpoint.js";
import { progressTo } from "./progress.js";
import { publicKeyOption } from "./public-key-option.js";

interface VerifyFlags extends ApiFlags {
  file?: string;
  publicKey?: string;
  logId?: string;
  state?: string;
  vkey?: string;
  policy?: string;
}

async function* readExport(file: string): AsyncGenerator<ExportLine> {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === "") continue;
    try {
      yield JSON.parse(line) as ExportLine;
    } catch {
      throw new Error(`${file}:${n}: not a JSON line`);
    }
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function verifyCommand(run: Run): Command {
  const cmd = apiOptions(
    new Command("verify")
      .summary("recompute the tree and check every signed tree head; live, prove the log only grew")
      .description(
        "Recomputes the tree from an export (--file) or live from the review API, checks each signed tree " +
          "head (against the pinned key and log ID when given) and names the first bad index. Live, it " +
          "fetches the head again after the export and proves it extends the exported one: a smaller head, " +
          "or the same size with another root, fails (the log was rewritten or forked). Exit 1 on failure.",
      )
      .option("--file <file>", "verify this export (`xbus log export`) offline instead of the live log")
      .addOption(
        publicKeyOption(
          "the log's public key, base64 of the raw 32-byte Ed25519 key: every head must be signed by it",
        ),
      )
      .option("--log-id <id>", "the log ID every head must carry")
      .option(
        "--state <file>",
        "live only: a monitor's memory between runs; the log must extend the head it holds (same key and " +
          "log ID), which is then replaced by the new head (mode 0600); a missing file is created (that " +
          "first run proves nothing against history); a corrupt file or a symbolic link is refused; " +
          "with the log's vkey it also checks and remembers the C2SP checkpoint (GET /checkpoint)",
      )
      .option(
        "--vkey <vkey>",
        "with --state: the log's verifier key the checkpoint must be signed under (default: the one the " +
          "state file holds, else log_vkey of .xbus/dev/dev.json; with neither, no checkpoint is checked)",
      )
      .option(
        "--policy <file>",
        "with --state: a C2SP tlog-policy the checkpoint's cosignatures must meet (default, without " +
          "--vkey: witness_policy of dev.json)",
      ),
  );
  return act<VerifyFlags>(run, cmd, async (o) => {
    const say = (s: string) => run.io.out(`${s}\n`);
    const opts = { publicKey: o.publicKey, logId: o.logId };
    let result: ReturnType<typeof verifyExport>;
    let growth = "";
    let leftAsItWas = "";
    if (o.file) {
      if (o.state !== undefined)
        throw new UsageError(
          "--state is for live monitoring (without --file): an export file is a copy of the log at one time, which may well be older than the head a monitor remembers",
        );
      checkReadable(o.file);
      result = verifyExport(await collect(readExport(o.file)), opts);
    } else {
      const stateFile = o.state;
      if (stateFile === undefined && (o.vkey !== undefined || o.policy !== undefined))
        throw new UsageError(
          "--vkey and --policy go with --state: the checkpoint is checked against the one a monitor remembers",
        );
      // Read before anything is fetched: a corrupt or linked state file stops the run here.
      const state = stateFile === undefined ? undefined : readMonitorState(stateFile);
      const remembered = state?.head;
      if (remembered)
        leftAsItWas = `\nthe state file ${stateFile} is left as it was: size ${remembered.tree_size}, root ${remembered.root_hash}`;
      const lastCheckpoint = `the checkpoint last verified (state file ${stateFile})`;
      const trust = stateFile === undefined ? undefined : checkpointTrust(o, state?.checkpoint);
      const stale = trust && rememberedVkeyProblem(trust.vkey, state?.checkpoint, lastCheckpoint);
      if (stale) {
        say(`FAIL: ${stale}${leftAsItWas}`);
        return 1;
      }
      const client = api(o);
      const live = await verifyLive(client, {
        ...opts,
        remembered: remembered && {
          head: remembered,
          name: `the tree head last verified (state file ${stateFile})`,
        },
        onProgress: progressTo(run.io),
      });
      result = live;
      let checkpoint: RememberedCheckpoint | undefined;
      let checkpointSaid = "";
      if (live.ok && trust) {
        let note: string;
        try {
          note = await publicApi(o).text("/checkpoint");
        } catch (err) {
          say(`FAIL: the checkpoint could not be fetched: ${(err as Error).message}${leftAsItWas}`);
          return 1;
        }
        const checked = await checkServedCheckpoint(note, proofsFrom(client), {
          ...trust,
          head: live.later,
          remembered: state?.checkpoint && { ...state.checkpoint, name: lastCheckpoint },
        });
        if (!checked.ok) {
          const both = checked.conflict
            ? `\n${lastCheckpoint}:\n${checked.conflict.remembered.trimEnd()}\nthe checkpoint served at /checkpoint:\n${checked.conflict.served.trimEnd()}`
            : "";
          say(`FAIL: ${checked.problem}${both}${leftAsItWas}`);
          return 1;
        }
        checkpoint = { vkey: trust.vkey, note };
        const { size } = checked.opened.checkpoint;
        const seen = `the checkpoint served at /checkpoint (size ${size}${cosignedBy(checked.opened.cosigned)})`;
        checkpointSaid = checked.history
          ? `; ${seen} ${checked.history.how === "same" ? "is the same as" : "extends"} the one last verified (size ${checked.history.size})`
          : `; ${seen} is consistent with the tree head, and remembered from now on`;
      }
      if (live.ok) {
        const { later } = live;
        growth =
          live.growth === "same"
            ? "; the tree head fetched after the export is the same"
            : `; the tree head fetched after the export (size ${later.tree_size}, root ${later.root_hash}) extends it` +
              (live.head.tree_size === 0
                ? " (the exported tree was empty)"
                : " (consistency proof verified)");
        if (stateFile !== undefined) {
          writeMonitorState(stateFile, later, checkpoint);
          growth += remembered
            ? `; the export's tree head ${live.history === "same" ? "is the same as" : "extends"} the one last verified (size ${remembered.tree_size}, root ${remembered.root_hash})${checkpointSaid}; ${stateFile} now holds size ${later.tree_size}`
            : `${checkpointSaid}; ${stateFile} created with the head of size ${later.tree_size}: a first run, it proved nothing against history yet`;
        }
      }
    }
    if (!result.ok) {
      say(
        `FAIL${result.badIndex === undefined ? "" : ` at index ${result.badIndex}`}: ${result.problem}${leftAsItWas}`,
      );
      return 1;
    }
    say(
      `ok: ${result.entries} entries, ${result.treeHeads} signed tree head(s), root ${result.rootHash}${growth}`,
    );
    return 0;
  });
}

/**
 * The checkpoint a monitor holds the log to: the log's vkey (--vkey, else the one the state remembers,
 * else dev.json's log_vkey; none of them: no checkpoint is checked) and the witness policy (--policy,
 * else dev.json's witness_policy when the vkey is dev.json's too).
 */
function checkpointTrust(
  o: VerifyFlags,
  remembered: RememberedCheckpoint | undefined,
): { vkey: string; policy: WitnessPolicy | undefined } | undefined {
  const dev = readDevJson();
  const vkey = o.vkey ?? remembered?.vkey ?? dev.log_vkey;
  if (vkey === undefined) {
    if (o.policy !== undefined)
      throw new UsageError(
        "--policy needs the log's vkey: pass --vkey (the log's vkey, as `xbus dev` prints it)",
      );
    return undefined;
  }
  // dev.json's policy is the default only for dev.json's log: not under a vkey given or remembered apart.
  return { vkey, policy: witnessPolicyOf(o.policy, o.vkey ?? (vkey === dev.log_vkey ? undefined : vkey)) };
}
