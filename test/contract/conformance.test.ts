import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adapterClient, type CheckResult, runConformance } from "../../adapters/conformance/index.js";
import { mohAdapter } from "../../adapters/examples/moh/adapter.js";
import { adapterHandlers, createRouteCheck } from "../../adapters/sdk/index.js";
import { silentLogger, XbusError } from "../../core/index.js";
import { receivedBytes, serviceDefinition, serviceImplementation } from "../../core/rpc/index.js";
import { CitizenRecordSchema } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { Adapter } from "../../proto/gen/xbus/v1/adapter_pb.js";
import { devJsonOf } from "../../stack/index.js";
import { startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * One contract suite, many adapters (STYLE: "one contract suite, many
 * implementations"): the four example agencies pass it behind their real gRPC
 * servers, and an adapter broken in one way fails exactly the check for that way.
 */
let stack: TestStack;
const servers: Server[] = [];

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  for (const s of servers) s.forceShutdown();
  await stack?.close();
});

async function conformance(target: string, client: { cert: string; key: string }): Promise<CheckResult[]> {
  const c = adapterClient({ target, tls: { ca: stack.ca.certPem, ...client } });
  try {
    return await runConformance({ client: c, catalogue: stack.catalogue, routeKey: stack.brokerSigningKey });
  } finally {
    c.close();
  }
}

const failedChecks = (results: CheckResult[]) => results.filter((r) => !r.pass).map((r) => r.check);

describe("the example agencies", () => {
  it.each(["dcrc", "moh", "moe", "rsta"])("%s passes every check", async (agency) => {
    const a = stack.adapters.find((x) => x.agency === agency);
    if (!a?.address) throw new Error(`no adapter for ${agency}`);
    const results = await conformance(a.address, a.client);
    expect(results.filter((r) => !r.pass)).toEqual([]);
    const services = stack.catalogue.services;
    const own = [...services.values()].filter((s) => s.service.agency === agency).map((s) => s.service.full);
    // Every check ran for every service the agency has in the catalogue.
    for (const s of own) {
      for (const check of [
        "known-subject",
        "unknown-subject",
        "released-fields",
        "deadline",
        "route",
        "malformed",
      ])
        expect(results.map((r) => r.check)).toContain(`${check} ${s}`);
    }
  });

  it("refuses a kit holding another agency's connector certificate", async () => {
    const moh = stack.adapters.find((x) => x.agency === "moh");
    const dcrc = stack.adapters.find((x) => x.agency === "dcrc");
    if (!moh?.address || !dcrc) throw new Error("adapters missing");
    const results = await conformance(moh.address, dcrc.client);
    expect(results[0]).toMatchObject({ check: "describe", pass: false });
    expect(results[0]?.detail).toContain("PERMISSION_DENIED");
  });

  it("says why it could not reach an adapter, not only UNAVAILABLE", async () => {
    const dcrc = stack.adapters.find((x) => x.agency === "dcrc");
    if (!dcrc) throw new Error("adapters missing");
    const results = await conformance("localhost:1", dcrc.client);
    expect(results[0]).toMatchObject({ check: "describe", pass: false });
    expect(results[0]?.detail).toMatch(/^Describe failed: UNAVAILABLE: .*ECONNREFUSED/);
  });
});

type Breakage = "wrong-type" | "ignores-deadline" | "leaks" | "no-route-check";

/** The moh example behind a hand-made gRPC server that misbehaves in one way. */
async function serveBroken(how: Breakage): Promise<string> {
  const handlers = adapterHandlers(mohAdapter(stack.population));
  const checkRoute = createRouteCheck("moh", [stack.brokerPublicKey]);
  const cert = stack.issue(`broken-${how}`, {
    spiffeId: `spiffe://gov.bt/agency/moh/adapter/broken-${how}`,
    commonName: `broken moh adapter (${how})`,
    usage: "server",
    dnsNames: ["localhost"],
  });
  const server = new Server();
  server.addService(
    serviceDefinition(Adapter),
    serviceImplementation(Adapter, {
      describe: () => handlers.describe(),
      fetch: async (req, call) => {
        // The check an SDK adapter makes, exported for adapters that serve gRPC themselves.
        if (how !== "no-route-check")
          await checkRoute(req, receivedBytes(req) ?? new Uint8Array(), call.metadata);
        const d = call.getDeadline();
        const given = d instanceof Date ? d.getTime() : d;
        if (!Number.isFinite(given) && how !== "ignores-deadline")
          throw new XbusError("INVALID_REQUEST", "a deadline is required", { field: "deadline" });
        const deadline = new Date(Number.isFinite(given) ? given : Date.now() + 5000);
        const res = await handlers.fetch(req, { deadline, logger: silentLogger });
        if (how === "leaks") {
          // Validates the request like a good adapter, then fills every field whatever policy released.
          const record = stack.catalogue.get(req.service)?.recordType;
          const all = record?.fields.map((f) => f.name) ?? [];
          return handlers.fetch({ ...req, fields: all }, { deadline, logger: silentLogger });
        }
        if (how === "wrong-type")
          return {
            record: anyPack(
              CitizenRecordSchema,
              create(CitizenRecordSchema, { name: "not a health record" }),
            ),
          };
        return res;
      },
    }),
  );
  const creds = ServerCredentials.createSsl(
    Buffer.from(stack.ca.certPem),
    [{ cert_chain: Buffer.from(cert.cert), private_key: Buffer.from(cert.key) }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("localhost:0", creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  servers.push(server);
  return `localhost:${port}`;
}

const mohClient = () => {
  const c = stack.adapters.find((x) => x.agency === "moh")?.client;
  if (!c) throw new Error("no moh client");
  return c;
};

describe("a broken adapter fails, naming the check", () => {
  it.each<[Breakage, string[]]>([
    [
      "wrong-type",
      [
        "known-subject moh.vaccination-record",
        "released-fields moh.vaccination-record",
        "known-subject moh.medical-fitness",
        "released-fields moh.medical-fitness",
      ],
    ],
    ["ignores-deadline", ["deadline moh.vaccination-record", "deadline moh.medical-fitness"]],
    ["leaks", ["released-fields moh.vaccination-record", "released-fields moh.medical-fitness"]],
    ["no-route-check", ["route moh.vaccination-record", "route moh.medical-fitness"]],
  ])("%s", async (how, expected) => {
    const results = await conformance(await serveBroken(how), mohClient());
    expect(failedChecks(results)).toEqual(expected);
  });
});

describe("xbus adapter test", () => {
  const xbus = join(import.meta.dirname, "../../bin/xbus.js");
  const run = (args: string[]) =>
    promisify(execFile)(process.execPath, [xbus, "adapter", "test", ...args], { cwd: stack.dir }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );

  it("passes an example adapter with the certificates from dev.json, and exits 0", async () => {
    const rsta = stack.adapters.find((x) => x.agency === "rsta");
    if (!rsta?.address) throw new Error("no rsta adapter");
    writeFileSync(join(stack.dir, "dev.json"), JSON.stringify(devJsonOf(stack)));
    const r = await run(["--target", rsta.address, "--dev-dir", stack.dir]);
    expect(r.stdout).toContain("PASS  known-subject rsta.driving-licence");
    expect(r.stdout).toContain("PASS  route rsta.driving-licence");
    expect(r.stdout).toContain("all 8 checks passed");
    expect(r.code).toBe(0);
  });

  it("exits 1 naming the failed checks of a leaky adapter", async () => {
    const target = await serveBroken("leaks");
    const c = mohClient();
    const r = await run([
      "--target",
      target,
      "--cert",
      c.certPath,
      "--key",
      c.keyPath,
      "--ca",
      stack.caPath,
      "--route-key",
      stack.brokerSigningKeyPath,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("FAIL  released-fields moh.medical-fitness");
    expect(r.stdout).toMatch(
      /2 of 14 checks failed: released-fields moh.vaccination-record, released-fields moh.medical-fitness/,
    );
  });
});
