import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dcrcAdapter } from "../../adapters/examples/dcrc/adapter.js";
import type { AdapterDefinition } from "../../adapters/sdk/index.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";
import { killXbusProcesses, runXbus, spawnXbus, startXbus } from "../helpers/xbus-process.js";

/*
 * `xbus connector` as an agency runs it: its own process, configured by a
 * file, on the stack's NATS with mutual TLS and the stack's broker routing to
 * it. The stack runs no connector of its own, so every answer below went
 * through the child process.
 */
const SERVICE = "dcrc.citizen-record";
const PURPOSE = "scholarship-eligibility";

/** dcrc's adapter, whose fetches wait while `held` is set: to catch a request in flight. */
let held: Promise<void> | undefined;
let adapterCalls = 0;
function gated(def: AdapterDefinition): AdapterDefinition {
  const services = Object.fromEntries(
    Object.entries(def.services).map(([name, svc]) => [
      name,
      {
        ...svc,
        fetch: async (ctx: Parameters<typeof svc.fetch>[0]) => {
          adapterCalls++;
          await held;
          return svc.fetch(ctx);
        },
      },
    ]),
  );
  return { ...def, services };
}

let stack: TestStack;
let subject: string;
let configPath: string;

beforeAll(async () => {
  stack = await startTestStack({ connector: false, agencies: (p) => [gated(dcrcAdapter(p))] });
  subject = stack.population.citizens[0]?.id ?? "";
  const dcrc = stack.adapters.find((a) => a.agency === "dcrc");
  configPath = join(stack.dir, "connector-dcrc.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      agency: "dcrc",
      trust_domain: "gov.bt",
      nats: [stack.nats.url],
      // Relative to the config file, as an agency would keep them beside it.
      tls: { ca: "certs/ca.pem", cert: dcrc?.client.certPath, key: dcrc?.client.keyPath },
      broker_keys: ["certs/broker-signing.pub.pem"],
      adapter: { address: dcrc?.address },
      metrics: { port: 0 },
    }),
  );
});
afterAll(async () => {
  killXbusProcesses();
  await stack?.close();
});

describe("xbus connector", () => {
  it("serves the agency from its own process and stops on SIGTERM, letting a request in flight answer", {
    timeout: 60_000,
  }, async () => {
    const client = stack.client();
    const fetch = () =>
      client.fetch(
        { service: SERVICE, subjectId: subject, purpose: PURPOSE, fields: ["name"] },
        deadline(10_000),
      );
    // No connector for dcrc yet: the broker says so at once.
    expect((await failure(fetch())).reason).toBe("PROVIDER_UNAVAILABLE");

    const c = await startXbus(["connector", "--config", configPath], "debug");
    expect(c.ready).toMatch(
      /^xbus connector: dcrc ready as spiffe:\/\/gov\.bt\/agency\/dcrc\/connector\/dev, serving xbus\.svc\.dcrc\.\* → adapter localhost:\d+, metrics http:\/\/127\.0\.0\.1:\d+\/metrics\n$/,
    );

    const res = await fetch();
    expect(res.releasedFields).toEqual(["name"]);
    expect(res.receipt).toBeDefined();
    // The external connector signed what it returned, with its own certificate.
    const outcome = stack.outcomes.find((o) => o.exchangeId === res.exchangeId);
    expect(outcome?.providerSignature?.signer).toBe("spiffe://gov.bt/agency/dcrc/connector/dev");

    const metricsUrl = /metrics (http:\S+)/.exec(c.ready)?.[1] ?? "";
    const metrics = await (await globalThis.fetch(metricsUrl)).text();
    expect(metrics).toMatch(
      /xbus_connector_requests_total\{agency="dcrc",service="dcrc.citizen-record",status="OK"\} 1/,
    );
    const ready = await globalThis.fetch(metricsUrl.replace("/metrics", "/readyz"));
    expect(ready.status).toBe(200);

    // A request reaches the adapter and is held there; SIGTERM arrives meanwhile.
    let release = () => {};
    held = new Promise<void>((r) => {
      release = r;
    });
    const callsBefore = adapterCalls;
    const inFlight = fetch();
    while (adapterCalls === callsBefore) await new Promise((r) => setTimeout(r, 20));
    c.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    expect(c.child.exitCode).toBeNull(); // still waiting for the request in flight
    release();
    held = undefined;
    expect((await inFlight).releasedFields).toEqual(["name"]);
    expect(await c.exited).toBe(0);

    // Gone from the bus: the broker answers at once again.
    expect((await failure(fetch())).reason).toBe("PROVIDER_UNAVAILABLE");
    // The child's logs (at debug) hold no citizen ID and no key material.
    expect(c.stderr()).toContain('"msg":"connector serving"');
    expect(c.stderr()).not.toContain(subject);
    expect(c.stderr()).not.toContain("PRIVATE KEY");
  });

  it("refuses to start with a certificate of another agency, naming the file", () => {
    const moh = stack.issueIdentity("connector-moh-other", {
      role: "connector",
      spiffeId: "spiffe://gov.bt/agency/moh/connector/other",
      commonName: "moh connector (test)",
    });
    const run = runXbus(["connector", "--config", configPath, "--cert", moh.certPath, "--key", moh.keyPath]);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `xbus connector: --cert: ${moh.certPath} is the certificate of spiffe://gov.bt/agency/moh/connector/other, not of a connector of agency dcrc (spiffe://gov.bt/agency/dcrc/connector/<name>)\n`,
    );
  });

  it("fails at start with NATS's reason when NATS refuses the certificate", () => {
    // A connector certificate NATS was not configured with: verify_and_map finds no such user.
    const stranger = stack.issueIdentity("connector-dcrc-unknown", {
      role: "connector",
      spiffeId: "spiffe://gov.bt/agency/dcrc/connector/unknown",
      commonName: "dcrc connector not on NATS (test)",
    });
    const run = runXbus(
      ["connector", "--config", configPath, "--cert", stranger.certPath, "--key", stranger.keyPath],
      "error",
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /^xbus connector: NATS nats:\/\/127\.0\.0\.1:\d+ refused the connection: Authorization Violation\n$/,
    );
  });

  it("waits for a NATS that is not up yet, and a SIGTERM meanwhile ends it at once", async () => {
    const c = spawnXbus(["connector", "--config", configPath, "--nats", "nats://127.0.0.1:1"]);
    await c.waitFor((_, err) => err.includes("NATS is not reachable yet"), "the wait for NATS");
    c.child.kill("SIGTERM");
    expect(await c.exited).toBe(0);
    expect(c.stderr()).toContain("xbus connector: SIGTERM, exiting before ready\n");
  });
});
