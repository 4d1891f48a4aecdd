import { Command } from "commander";
import { readDevJson } from "../../../stack/index.js";
import {
  readCheckpointState,
  tileFetcher,
  verifyFromTiles,
  writeCheckpointState,
} from "../../../verifier/index.js";
import { act, type Run, UsageError } from "../command.js";
import { cosignedBy, logVkeyOf, witnessPolicyOf } from "./checkpoint.js";

interface MonitorFlags {
  url?: string;
  vkey?: string;
  policy?: string;
  state?: string;
  leafIndex?: string;
  leafHash?: string;
}

/** --leaf-index and --leaf-hash, both or neither: the leaf to prove in the checkpoint's tree. */
function leafOf(o: MonitorFlags): { index: number; hash: Buffer } | undefined {
  if (o.leafIndex === undefined && o.leafHash === undefined) return undefined;
  if (o.leafIndex === undefined || o.leafHash === undefined)
    throw new UsageError("--leaf-index and --leaf-hash go together: the leaf's index and its hash");
  if (!/^[0-9]{1,15}$/.test(o.leafIndex))
    throw new UsageError(
      `--leaf-index must be a non-negative integer, got ${JSON.stringify(o.leafIndex.slice(0, 64))}`,
    );
  if (!/^[0-9a-f]{64}$/.test(o.leafHash))
    throw new UsageError("--leaf-hash must be the leaf's SHA-256 hash, 64 lowercase hex digits");
  return { index: Number(o.leafIndex), hash: Buffer.from(o.leafHash, "hex") };
}

export function monitorCommand(run: Run): Command {
  const cmd = new Command("monitor")
    .summary("check the log from its public checkpoint and hash tiles alone (no token)")
    .description(
      "Fetches GET /checkpoint, opens it with the log's verifier key (and witness policy), reads the C2SP " +
        "tlog-tiles hash tiles it needs (GET /tile/…, no token) and recomputes the tree's root from them: it " +
        "must be the checkpoint's. With --state, proves the checkpoint extends the one the state file holds " +
        "with a consistency proof built from the tiles, then stores the new one; with --leaf-index and " +
        "--leaf-hash, proves that leaf is in the tree with an inclusion proof built from the tiles. Exit 1 on " +
        "failure, 2 while the leaf is newer than the checkpoint.",
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
    )
    .option(
      "--leaf-index <n>",
      "with --leaf-hash: also prove this leaf is in the checkpoint's tree, from tiles",
    )
    .option("--leaf-hash <hex>", "the leaf's hash (a receipt's leaf_hash), 64 lowercase hex digits");
  return act<MonitorFlags>(run, cmd, async (o) => {
    const vkey = logVkeyOf(o.vkey);
    const policy = witnessPolicyOf(o.policy, o.vkey);
    const leaf = leafOf(o);
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
      leaf,
    });
    if (!result.ok) {
      const kept = remembered
        ? `\nthe state file ${o.state} is left as it was: size ${remembered.checkpoint.size}, root ${remembered.checkpoint.rootHash.toString("hex")}`
        : "";
      run.io.out(`${result.pending ? "PENDING" : "FAIL"}: ${result.problem}${kept}\n`);
      return result.pending ? 2 : 1;
    }
    const { origin, size, rootHash } = result.opened.checkpoint;
    const included = leaf ? `; leaf ${leaf.index} is in it (inclusion proof from tiles verified)` : "";
    let history = "";
    if (o.state !== undefined) {
      writeCheckpointState(o.state, note);
      history = remembered
        ? `; it ${result.growth === "same" ? "is the same as" : "extends (consistency proof from tiles verified)"} the one last verified (size ${remembered.checkpoint.size}); ${o.state} now holds size ${size}`
        : `; ${o.state} created with the checkpoint of size ${size}: a first run, it proved nothing against history yet`;
    }
    run.io.out(
      `ok: checkpoint of ${origin}, size ${size}, root ${rootHash.toString("hex")}${cosignedBy(result.opened.cosigned)}; the root recomputed from ${result.tiles} hash tile(s) matches${included}${history}\n`,
    );
    return 0;
  });
}
