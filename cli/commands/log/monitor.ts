import { Command } from "commander";
import { readDevJson } from "../../../stack/index.js";
import {
  readCheckpointState,
  tileFetcher,
  verifyFromTiles,
  writeCheckpointState,
} from "../../../verifier/index.js";
import { act, type Run } from "../command.js";
import { cosignedBy, logVkeyOf, witnessPolicyOf } from "./checkpoint.js";

interface MonitorFlags {
  url?: string;
  vkey?: string;
  policy?: string;
  state?: string;
}

export function monitorCommand(run: Run): Command {
  const cmd = new Command("monitor")
    .summary("check the log from its public checkpoint and hash tiles alone (no token)")
    .description(
      "Fetches GET /checkpoint, opens it with the log's verifier key (and witness policy), reads the C2SP " +
        "tlog-tiles hash tiles it needs (GET /tile/…, no token) and recomputes the tree's root from them: it " +
        "must be the checkpoint's. With --state, proves the checkpoint extends the one the state file holds " +
        "with a consistency proof built from the tiles, then stores the new one. Exit 1 on failure.",
    )
    .option("--url <url>", "the log's base URL (default: review.url of .xbus/dev/dev.json)")
    .option("--vkey <vkey>", "the log's verifier key (default: log_vkey of .xbus/dev/dev.json)")
    .option(
      "--policy <file>",
      "a C2SP tlog-policy the checkpoint's cosignatures must meet (default, without --vkey: witness_policy of dev.json)",
    )
    .option(
      "--state <file>",
      "a monitor's memory between runs: the last checkpoint verified, which the log must extend; replaced " +
        "by the new one (mode 0600); a missing file is created (that first run proves nothing against " +
        "history); a corrupt file, one whose checkpoint does not open with the vkey, or a symbolic link is refused",
    );
  return act<MonitorFlags>(run, cmd, async (o) => {
    const vkey = logVkeyOf(o.vkey);
    const policy = witnessPolicyOf(o.policy, o.vkey);
    // Read before anything is fetched: a corrupt or linked state file stops the run here.
    const remembered = o.state === undefined ? undefined : readCheckpointState(o.state, vkey);
    const url = o.url ?? readDevJson().review?.url;
    if (!url) throw new Error("no log URL: pass --url (or run `xbus dev` here first)");
    const fetchTile = tileFetcher(url);
    const note = await fetchTile("checkpoint").then((b) => b.toString("utf8"));
    const result = await verifyFromTiles({
      note,
      trust: { logVkey: vkey, policy },
      fetchTile,
      remembered: remembered && {
        opened: remembered,
        name: `the checkpoint last verified (state file ${o.state})`,
      },
    });
    if (!result.ok) {
      const kept = remembered
        ? `\nthe state file ${o.state} is left as it was: size ${remembered.checkpoint.size}, root ${remembered.checkpoint.rootHash.toString("hex")}`
        : "";
      run.io.out(`FAIL: ${result.problem}${kept}\n`);
      return 1;
    }
    const { origin, size, rootHash } = result.opened.checkpoint;
    let history = "";
    if (o.state !== undefined) {
      writeCheckpointState(o.state, note);
      history = remembered
        ? `; it ${result.growth === "same" ? "is the same as" : "extends (consistency proof from tiles verified)"} the one last verified (size ${remembered.checkpoint.size}); ${o.state} now holds size ${size}`
        : `; ${o.state} created with the checkpoint of size ${size}: a first run, it proved nothing against history yet`;
    }
    run.io.out(
      `ok: checkpoint of ${origin}, size ${size}, root ${rootHash.toString("hex")}${cosignedBy(result.opened.cosigned)}; the root recomputed from ${result.tiles} hash tile(s) matches${history}\n`,
    );
    return 0;
  });
}
