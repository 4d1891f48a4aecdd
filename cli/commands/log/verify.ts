import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { Command } from "commander";
import {
  type ExportLine,
  readMonitorState,
  verifyExport,
  verifyLive,
  writeMonitorState,
} from "../../../verifier/index.js";
import { checkReadable } from "../../user-file.js";
import { act, type Run, UsageError } from "../command.js";
import { type ApiFlags, api, apiOptions } from "./api-options.js";
import { progressTo } from "./progress.js";
import { publicKeyOption } from "./public-key-option.js";

interface VerifyFlags extends ApiFlags {
  file?: string;
  publicKey?: string;
  logId?: string;
  state?: string;
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
          "first run proves nothing against history); a corrupt file or a symbolic link is refused",
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
      // Read before anything is fetched: a corrupt or linked state file stops the run here.
      const remembered = stateFile === undefined ? undefined : readMonitorState(stateFile);
      const live = await verifyLive(api(o), {
        ...opts,
        remembered: remembered && {
          head: remembered,
          name: `the tree head last verified (state file ${stateFile})`,
        },
        onProgress: progressTo(run.io),
      });
      result = live;
      if (remembered)
        leftAsItWas = `\nthe state file ${stateFile} is left as it was: size ${remembered.tree_size}, root ${remembered.root_hash}`;
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
          writeMonitorState(stateFile, later);
          growth += remembered
            ? `; the export's tree head ${live.history === "same" ? "is the same as" : "extends"} the one last verified (size ${remembered.tree_size}, root ${remembered.root_hash}); ${stateFile} now holds size ${later.tree_size}`
            : `; ${stateFile} created with the head of size ${later.tree_size}: a first run, it proved nothing against history yet`;
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
