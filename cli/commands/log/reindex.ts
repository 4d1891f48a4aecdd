import { createPrivateKey } from "node:crypto";
import { Command } from "commander";
import { reindex } from "../../../broker/index.js";
import { readDevJson } from "../../../stack/index.js";
import { readUserFile } from "../../user-file.js";
import { act, type Run } from "../command.js";
import { progressTo } from "./progress.js";

interface ReindexFlags {
  db?: string;
  logKey?: string;
  logId?: string;
  nats?: string;
  natsCa?: string;
  natsCert?: string;
  natsKey?: string;
}

/** NATS with mutual TLS: the flags' files, else dev.json's broker certificate when NATS is dev.json's. */
function natsTls(o: ReindexFlags, dev: ReturnType<typeof readDevJson>) {
  if (o.natsCa && o.natsCert && o.natsKey)
    return {
      ca: readUserFile(o.natsCa, "utf8"),
      cert: readUserFile(o.natsCert, "utf8"),
      key: readUserFile(o.natsKey, "utf8"),
    };
  // xbus dev's NATS takes only certificates it knows (see README "The federation's PKI").
  const fromDev = o.nats === undefined && dev.ca ? dev.nats_client : undefined;
  return (
    fromDev && {
      ca: readUserFile(dev.ca ?? "", "utf8"),
      cert: readUserFile(fromDev.cert, "utf8"),
      key: readUserFile(fromDev.key, "utf8"),
    }
  );
}

export function reindexCommand(run: Run): Command {
  const cmd = new Command("reindex")
    .summary("rebuild the log index from the stream alone")
    .description(
      "Rebuilds the SQLite index from the JetStream stream alone (defaults: dev.json's log and NATS). The " +
        "rebuilt tree replaces the index at --db only if it extends that index's last signed head, else exit " +
        "1 and the index stays as it was; a broker running on it takes the new one at its next start.",
    )
    .option("--db <path>", "the index to rebuild")
    .option("--log-key <pem>", "the log's Ed25519 private key, which signs the tree heads")
    .option("--log-id <id>", "the id the log's tree heads carry")
    .option("--nats <url>", "the NATS server holding the log stream")
    .option("--nats-ca <pem>", "NATS with mutual TLS: the trust bundle")
    .option("--nats-cert <pem>", "NATS with mutual TLS: a broker's certificate")
    .option("--nats-key <pem>", "NATS with mutual TLS: its key");
  return act<ReindexFlags>(run, cmd, async (o) => {
    const dev = readDevJson();
    const path = o.db ?? dev.log?.index;
    const keyPath = o.logKey ?? dev.log?.key;
    const servers = o.nats ?? dev.nats;
    if (!path || !keyPath || !servers)
      throw new Error("reindex needs --db, --log-key and --nats (or `xbus dev` running here)");
    const logId = o.logId ?? dev.log?.log_id;
    if (!logId) throw new Error("reindex needs --log-id (the id the log's tree heads carry)");
    const tls = natsTls(o, dev);
    const result = await reindex({
      path,
      logId,
      logKey: createPrivateKey(readUserFile(keyPath)),
      servers,
      ...(tls && { tls }),
      onProgress: progressTo(run.io),
      onOldIndexUnreadable: (why) =>
        run.io.err(
          `the old index at ${path} could not be read (${why}): the rebuilt tree is not compared with its heads\n`,
        ),
    });
    if (!result.ok) {
      run.io.out(`FAIL: ${result.problem}; the index at ${path} is left as it was\n`);
      return 1;
    }
    run.io.out(
      `reindexed ${result.treeSize} entries; root ${result.rootHash}` +
        (result.extended
          ? `; extends the old index's last signed head (size ${result.extended.treeSize})`
          : "") +
        "\n",
    );
    return 0;
  });
}
