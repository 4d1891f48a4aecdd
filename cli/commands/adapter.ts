import { createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { adapterClient, DEFAULT_UNKNOWN_SUBJECT, runConformance } from "../../adapters/conformance/index.js";
import { Catalogue } from "../../core/contract/index.js";
import { readDevJson } from "../../stack/index.js";
import { HOST_PORT } from "../config/setting-schemas.js";
import { whyUnreadable } from "../user-file.js";
import { act, type Run, requiredOption, UsageError, type XbusCommand } from "./command.js";

interface TestFlags {
  target: string;
  cert?: string;
  key?: string;
  ca?: string;
  routeKey?: string;
  subject?: string;
  unknownSubject?: string;
  serverName?: string;
  devDir?: string;
}

function testCommand(run: Run): Command {
  const cmd = new Command("test")
    .summary("run the conformance kit against an adapter")
    .description(
      "Runs the conformance suite against an xbus.v1.Adapter: Describe is valid and its record types are in " +
        "the catalogue; per service, a known subject returns a record of the declared type, an unknown one " +
        "NOT_FOUND, only released fields are set, a Fetch without the broker's route (none, for another " +
        "request, past its deadline, or by an untrusted key) is refused, a Fetch without a deadline is " +
        "refused, and malformed requests get INVALID_ARGUMENT. Prints each check; exits 1 naming the checks " +
        "that failed. The kit signs routes with --route-key, a key the adapter trusts as a broker's. The adapter " +
        "admits only connectors of its own agency, so --cert/--key must be such a certificate; without them " +
        "the kit reads dev.json (written by `xbus dev`): the client certificate listed for the adapter at " +
        "--target, and the CA.",
    )
    .addOption(requiredOption("--target <host:port>", "the adapter"))
    .option("--cert <pem>", "client certificate (a connector's of the adapter's agency)")
    .option("--key <pem>", "its key")
    .option("--ca <pem>", "the federation's trust bundle")
    .option(
      "--route-key <pem>",
      "Ed25519 private key (PKCS#8 PEM) the adapter trusts as a broker's route-signing key (default: dev.json broker_signing_key)",
    )
    .option(
      "--subject <id>",
      "a subject every service holds a record for (default: each service's sample_subject_id from Describe)",
    )
    .option("--unknown-subject <id>", `a subject no service holds (default ${DEFAULT_UNKNOWN_SUBJECT})`)
    .option("--server-name <name>", "name in the adapter's certificate, if not the host in --target")
    .option("--dev-dir <dir>", "where `xbus dev` wrote dev.json (default .xbus/dev)");
  return act<TestFlags>(run, cmd, async (o) => {
    const say = (line: string) => run.io.out(`${line}\n`);
    if (!HOST_PORT.test(o.target))
      throw new UsageError(`--target must be HOST:PORT, got ${JSON.stringify(o.target.slice(0, 100))}`);
    const dev = readDevJson(o.devDir);
    const listed = dev.adapters?.find((a) => a.address === o.target)?.client;
    const certPath = o.cert ?? listed?.cert ?? dev.adapter_client?.cert;
    const keyPath = o.key ?? listed?.key ?? dev.adapter_client?.key;
    const caPath = o.ca ?? dev.ca;
    const routeKeyPath = o.routeKey ?? dev.broker_signing_key;
    if (!certPath || !keyPath || !caPath || !routeKeyPath)
      throw new UsageError(
        "--cert, --key, --ca and --route-key are required (no defaults found in dev.json)",
      );
    const read = (what: string, p: string) => {
      try {
        return readFileSync(p, "utf8");
      } catch (err) {
        throw new Error(`cannot read ${what} ${p}: ${whyUnreadable(err)}`);
      }
    };
    let routeKey: KeyObject;
    try {
      routeKey = createPrivateKey(read("--route-key", routeKeyPath));
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("cannot read")) throw err;
      throw new Error(`--route-key ${routeKeyPath} is not a PEM private key`);
    }
    if (routeKey.asymmetricKeyType !== "ed25519")
      throw new Error(`--route-key ${routeKeyPath} is not an Ed25519 key (routes are signed with Ed25519)`);
    const client = adapterClient({
      target: o.target,
      tls: { ca: read("--ca", caPath), cert: read("--cert", certPath), key: read("--key", keyPath) },
      serverName: o.serverName,
    });
    try {
      say(`xbus adapter test: ${o.target}`);
      const results = await runConformance({
        client,
        catalogue: Catalogue.load(),
        routeKey,
        subject: o.subject,
        ...(o.unknownSubject ? { unknownSubject: o.unknownSubject } : {}),
        onResult: (r) => say(`  ${r.pass ? "PASS" : "FAIL"}  ${r.check}: ${r.detail}`),
      });
      const failed = results.filter((r) => !r.pass);
      if (failed.length > 0) {
        say(`${failed.length} of ${results.length} checks failed: ${failed.map((r) => r.check).join(", ")}`);
        return 1;
      }
      say(`all ${results.length} checks passed`);
      return 0;
    } finally {
      client.close();
    }
  });
}

export const adapterCommand: XbusCommand = {
  name: "adapter",
  create: (run) =>
    new Command("adapter")
      .summary("adapter tools: `adapter test` runs the conformance kit against an adapter")
      .addCommand(testCommand(run)),
};
