import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { adapterClient, DEFAULT_UNKNOWN_SUBJECT, runConformance } from "../../adapters/conformance/index.js";
import { Catalogue } from "../../core/contract/index.js";
import { readDevJson } from "../../stack/index.js";
import { whyUnreadable } from "../user-file.js";
import type { Command } from "./command.js";

const HELP = `xbus adapter test --target HOST:PORT [--cert PEM --key PEM --ca PEM] [options]

Runs the conformance suite against an xbus.v1.Adapter: Describe is valid and its record types are in
the catalogue; per service, a known subject returns a record of the declared type, an unknown one
NOT_FOUND, only released fields are set, a Fetch without a deadline is refused, and malformed
requests get INVALID_ARGUMENT. Prints each check; exits 1 naming the checks that failed.

The adapter admits only connectors of its own agency, so --cert/--key must be such a certificate.
Without them, the kit reads .xbus/dev/dev.json (written by \`xbus dev\`): the client certificate
listed for the adapter at --target, and the CA.

  --target HOST:PORT      the adapter (required)
  --cert, --key, --ca     PEM files: client certificate and key, federation CA
  --subject ID            a subject every service holds a record for (default: each service's
                          sample_subject_id from Describe)
  --unknown-subject ID    a subject no service holds (default ${DEFAULT_UNKNOWN_SUBJECT})
  --server-name NAME      name in the adapter's certificate, if not the host in --target
  --dev-dir DIR           where \`xbus dev\` wrote dev.json (default .xbus/dev)`;

export const adapterCommand: Command = {
  name: "adapter",
  summary: "adapter tools: `adapter test` runs the conformance kit against an adapter",
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === "help" || sub === "--help" || sub === "-h") {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    if (sub !== "test") {
      process.stderr.write(`xbus adapter: unknown subcommand ${JSON.stringify(sub)}\n\n${HELP}\n`);
      return 2;
    }
    const { values } = parseArgs({
      args: rest,
      options: {
        target: { type: "string" },
        cert: { type: "string" },
        key: { type: "string" },
        ca: { type: "string" },
        subject: { type: "string" },
        "unknown-subject": { type: "string" },
        "server-name": { type: "string" },
        "dev-dir": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    const say = (line: string) => process.stdout.write(`${line}\n`);
    const fail = (line: string) => {
      process.stderr.write(`xbus adapter test: ${line}\n`);
      return 2;
    };
    if (!values.target || !/^[A-Za-z0-9.-]+:[0-9]{1,5}$|^\[[0-9a-fA-F:]+\]:[0-9]{1,5}$/.test(values.target))
      return fail(
        values.target
          ? `--target must be HOST:PORT, got ${JSON.stringify(values.target.slice(0, 100))}`
          : "--target HOST:PORT is required",
      );
    const dev = readDevJson(values["dev-dir"]);
    const listed = dev.adapters?.find((a) => a.address === values.target)?.client;
    const certPath = values.cert ?? listed?.cert ?? dev.adapter_client?.cert;
    const keyPath = values.key ?? listed?.key ?? dev.adapter_client?.key;
    const caPath = values.ca ?? dev.ca;
    if (!certPath || !keyPath || !caPath)
      return fail(`--cert, --key and --ca are required (no defaults found in dev.json)`);
    const read = (what: string, p: string) => {
      try {
        return readFileSync(p, "utf8");
      } catch (err) {
        throw new Error(`cannot read ${what} ${p}: ${whyUnreadable(err)}`);
      }
    };
    const client = adapterClient({
      target: values.target,
      tls: { ca: read("--ca", caPath), cert: read("--cert", certPath), key: read("--key", keyPath) },
      serverName: values["server-name"],
    });
    try {
      say(`xbus adapter test: ${values.target}`);
      const results = await runConformance({
        client,
        catalogue: Catalogue.load(),
        subject: values.subject,
        ...(values["unknown-subject"] ? { unknownSubject: values["unknown-subject"] } : {}),
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
  },
};
