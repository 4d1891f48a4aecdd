import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, it } from "vitest";
import { adapterClient, runConformance } from "../../adapters/conformance/index.js";
import { drivingLicenceOf } from "../../adapters/examples/rsta/licence-records.js";
import { DrivingLicenceSchema } from "../../proto/gen/agencies/rsta/v1/transport_pb.js";
import { LOOPBACK } from "../../stack/index.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * The contract from a third language: an adapter in Python (adapters/examples/python-rsta, Debian's
 * python3-grpcio and python3-cryptography, no generated code) passes the same conformance kit, route
 * checks included, and refuses a revoked connector certificate from its CRL.
 */
const PYTHON = "/usr/bin/python3";
let stack: TestStack;
let child: ChildProcess | undefined;
let target = "";
const stderr: string[] = [];

beforeAll(async () => {
  stack = await startTestStack({ agencies: () => [] });
  const cert = stack.issue("rsta-adapter-python", {
    spiffeId: "spiffe://gov.bt/agency/rsta/adapter/python",
    commonName: "rsta adapter in Python",
    usage: "server",
    ...LOOPBACK,
  });
  const records: Record<string, unknown> = {};
  for (const c of stack.population.citizens) {
    const l = drivingLicenceOf(stack.population, c);
    if (l) records[c.id] = toJson(DrivingLicenceSchema, l);
    if (Object.keys(records).length === 20) break;
  }
  const recordsPath = join(stack.dir, "licences.json");
  writeFileSync(recordsPath, JSON.stringify(records));
  const script = join(import.meta.dirname, "../../adapters/examples/python-rsta/adapter.py");
  const args = [
    script,
    ...["--ca", stack.caPath, "--cert", cert.certPath, "--key", cert.keyPath, "--crl", stack.crlPath],
    ...["--broker-key", join(stack.dir, "certs", "broker-signing.pub.pem"), "--records", recordsPath],
  ];
  const c = spawn(PYTHON, args, { stdio: ["ignore", "pipe", "pipe"] });
  child = c;
  c.stderr.on("data", (d: Buffer) => stderr.push(d.toString()));
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    c.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\d+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    c.on("error", (err) => reject(new Error(`cannot run ${PYTHON}: ${err.message}`)));
    c.on("exit", (code) => reject(new Error(`the Python adapter exited with ${code}: ${stderr.join("")}`)));
  });
  target = `localhost:${port}`;
});
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child?.on("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
  await stack?.close();
});

const connector = (name: string) =>
  stack.issueIdentity(`rsta-connector-${name}`, {
    role: "connector",
    spiffeId: `spiffe://gov.bt/agency/rsta/connector/${name}`,
    commonName: `rsta connector ${name}`,
  });

async function kit(identity: { cert: string; key: string }) {
  const client = adapterClient({ target, tls: { ca: stack.ca.certPem, ...identity } });
  try {
    return await runConformance({ client, catalogue: stack.catalogue, routeKey: stack.brokerSigningKey });
  } finally {
    client.close();
  }
}

it("passes the conformance kit, route checks included", async () => {
  const results = await kit(connector("kit"));
  expect(results.filter((r) => !r.pass)).toEqual([]);
  expect(results.map((r) => r.check)).toEqual([
    "describe",
    "record-types-in-catalogue",
    "known-subject rsta.driving-licence",
    "unknown-subject rsta.driving-licence",
    "released-fields rsta.driving-licence",
    "deadline rsta.driving-licence",
    "route rsta.driving-licence",
    "malformed rsta.driving-licence",
  ]);
});

it("refuses a connector certificate revoked in the CRL, and another agency's", async () => {
  const insider = connector("insider");
  expect((await kit(insider))[0]).toMatchObject({ check: "describe", pass: true });
  stack.caDir.revoke({ serial: insider.serial }, "keyCompromise");
  const results = await kit(insider);
  expect(results[0]).toMatchObject({ check: "describe", pass: false });
  expect(results[0]?.detail).toContain("UNAUTHENTICATED (CERT_REVOKED)");
  const moh = stack.issueIdentity("moh-connector-at-rsta", {
    role: "connector",
    spiffeId: "spiffe://gov.bt/agency/moh/connector/stray",
    commonName: "moh connector",
  });
  const refused = (await kit(moh))[0];
  expect(refused?.detail).toContain("PERMISSION_DENIED (WRONG_ROLE)");
});
