import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import { openCaDir } from "../../certs/index.js";
import { natsConfigFromLedger } from "../../stack/index.js";
import { act, type Run, repeatableOption, requiredOption, UsageError, type XbusCommand } from "./command.js";

interface ConfigFlags {
  caDir: string;
  out: string;
  reload?: string[];
}

/** Written beside, then renamed over: a server reloading mid-write never reads half a file. */
function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text, { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
}

function configCommand(run: Run): Command {
  const cmd = new Command("config")
    .summary("write the nats-servers' users from the CA's ledger, and reload the servers")
    .description(
      "Writes OUT/core-auth.conf (brokers, admins, connectors, and leaf nodes on leaf-node connections only) " +
        "and OUT/leaf-AGENCY-auth.conf for each agency with a live leaf certificate (its connectors), the " +
        "files deploy/nats/core.conf and leaf.conf include. Only identities with a live certificate are " +
        "users: run it after every `xbus certs revoke`, with --reload, and a revoked identity connected to " +
        "that server is cut off and cannot reconnect. nats-server 2.9 reads no CRL; this is how revocation " +
        "reaches NATS. A leaf node the agency runs is reloaded by the agency (see README).",
    )
    .addOption(new Option("--ca-dir <dir>", "the CA's folder (its ledger)").env("XBUS_CA_DIR"))
    .addOption(requiredOption("--out <dir>", "where the include files go (beside the servers' configs)"))
    .addOption(
      repeatableOption(
        "--reload <pid>",
        "signal this nats-server to reload (SIGHUP, as nats-server --signal reload)",
      ),
    );
  return act<ConfigFlags>(run, cmd, (o) => {
    if (!o.caDir) throw new UsageError("--ca-dir DIR is required (or XBUS_CA_DIR)");
    const pids = (o.reload ?? []).map((p) => {
      if (!/^[1-9][0-9]{0,9}$/.test(p))
        throw new UsageError(`--reload must be a process id, got ${JSON.stringify(p)}`);
      return Number(p);
    });
    const cfg = natsConfigFromLedger(openCaDir(resolve(o.caDir)).certificates());
    const out = resolve(o.out);
    mkdirSync(out, { recursive: true });
    writeAtomically(join(out, "core-auth.conf"), cfg.core);
    run.io.out(`wrote ${join(out, "core-auth.conf")}\n`);
    for (const [agency, text] of cfg.leaves) {
      const file = join(out, `leaf-${agency}-auth.conf`);
      writeAtomically(file, text);
      run.io.out(`wrote ${file}\n`);
    }
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGHUP");
      } catch (err) {
        throw new Error(`cannot signal nats-server ${pid} to reload: ${(err as Error).message}`);
      }
      run.io.out(`reloaded nats-server ${pid}\n`);
    }
    return 0;
  });
}

export const natsCommand: XbusCommand = {
  name: "nats",
  create: (run) =>
    new Command("nats")
      .summary("the nats-servers' side: `nats config` writes their users from the CA's ledger")
      .addCommand(configCommand(run)),
};
