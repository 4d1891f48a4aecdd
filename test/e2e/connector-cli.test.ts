import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dcrcAdapter } from "../../adapters/examples/dcrc/adapter.js";
import type { AdapterDefinition } from "../../adapters/sdk/index.js";
import { sha256, verifyReply } from "../../core/signing/index.js";
import type { NatsServer } from "../../stack/index.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";
import { certificateSha256, natsClientCertificates } from "../helpers/tls.js";
import {
  killXbusProcesses,
  logLines,
  renewalLines,
  runXbus,
  spawnXbus,
  startXbus,
} from "../helpers/xbus-process.js";

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
  stack = await startTestStack({
    connectors: "stopped",
    agencies: (p) => [gated(dcrcAdapter(p))],
    natsMonitor: true,
  });
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

    const metricsUrl = /metrics (http:\S+)/.exec(c.ready)?.[1] ?? "";
    // Before its first reconnect, an alert on the rate of reconnects already has a series.
    expect(await (await globalThis.fetch(metricsUrl)).text()).toContain(
      'xbus_nats_reconnects_total{component="connector-dcrc"} 0',
    );

    const res = await fetch();
    expect(res.releasedFields).toEqual(["name"]);
    expect(res.receipt).toBeDefined();
    // The external connector signed what it returned, with its own certificate.
    const outcome = stack.outcomes.find((o) => o.exchangeId === res.exchangeId);
    expect(outcome?.providerSignature?.signer).toBe("spiffe://gov.bt/agency/dcrc/connector/dev");

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

/*
 * Renewal in place: the connector watches its tls.ca, tls.cert and tls.key.
 * Each test runs a connector of its own on a copy of dcrc's files, in a folder
 * as an agency keeps them, and rewrites them there.
 */
const DCRC_CONNECTOR = "spiffe://gov.bt/agency/dcrc/connector/dev";

function connectorFolder(name: string) {
  const dir = join(stack.dir, name);
  mkdirSync(dir);
  const dcrc = stack.adapters.find((a) => a.agency === "dcrc");
  if (!dcrc?.address) throw new Error("dcrc's adapter is not running behind gRPC");
  const files = {
    ca: join(dir, "ca.pem"),
    cert: join(dir, "connector.pem"),
    key: join(dir, "connector-key.pem"),
  };
  copyFileSync(stack.caPath, files.ca);
  writeFileSync(files.cert, dcrc.client.cert);
  writeFileSync(files.key, dcrc.client.key);
  const config = join(dir, "connector.json");
  writeFileSync(
    config,
    JSON.stringify({
      agency: "dcrc",
      trust_domain: "gov.bt",
      nats: [stack.nats.url],
      tls: { ca: "ca.pem", cert: "connector.pem", key: "connector-key.pem" },
      broker_keys: [join(stack.dir, "certs/broker-signing.pub.pem")],
      adapter: { address: dcrc.address },
      metrics: { port: 0 },
    }),
  );
  return { config, files, original: { cert: dcrc.client.cert, key: dcrc.client.key } };
}

const fetchName = () =>
  stack
    .client()
    .fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE, fields: ["name"] }, deadline(10_000));

/** The certificate an exchange's provider signature names, of `candidates`, after checking the signature against it. */
function signedWith(exchangeId: string, candidates: string[]): string {
  const outcome = stack.outcomes.find((o) => o.exchangeId === exchangeId);
  const sig = outcome?.providerSignature;
  if (!sig) throw new Error(`no provider signature for ${exchangeId}`);
  expect(sig.signer).toBe(DCRC_CONNECTOR);
  const named = candidates.find(
    (pem) => Buffer.compare(sha256(new X509Certificate(pem).raw), Buffer.from(sig.certificateSha256)) === 0,
  );
  if (!named) throw new Error(`the signature of ${exchangeId} names none of the certificates`);
  const typeUrl = "type.googleapis.com/agencies.dcrc.v1.CitizenRecord";
  expect(verifyReply(named, { exchangeId, typeUrl, recordSha256: sig.recordSha256 }, sig)).toBe(true);
  return named;
}

/**
 * Restarts the stack's nats-server, so every client reconnects presenting the TLS identity it holds then, and
 * waits until the dcrc connectors' connections are back with `certificates`: the stack's own idle one (the
 * certificate it was issued) and the child's.
 */
async function reconnectedWith(certificates: string[]): Promise<void> {
  const server = stack.nats as NatsServer;
  await server.stop();
  await server.restart();
  const want = certificates.map((pem) => ({ user: DCRC_CONNECTOR, certSha256: certificateSha256(pem) }));
  await vi.waitFor(
    async () => {
      const seen = await natsClientCertificates(server.monitorUrl ?? "", "xbus-connector-dcrc-dev");
      expect(seen).toHaveLength(want.length);
      expect(seen).toEqual(expect.arrayContaining(want));
    },
    { timeout: 20_000, interval: 100 },
  );
}

/** fetchName, retried while broker and connector are still reconnecting. */
const fetchNameOnceBack = () => vi.waitFor(fetchName, { timeout: 20_000, interval: 200 });

const daysToExpiry = async (metricsUrl: string) => {
  const text = await (await globalThis.fetch(metricsUrl)).text();
  const line = text
    .split("\n")
    .find(
      (l) => l.startsWith("xbus_certificate_days_to_expiry") && l.includes('certificate="connector-dcrc"'),
    );
  return Number(line?.slice(line.lastIndexOf(" ") + 1));
};

describe("xbus connector, certificate renewal without a restart", () => {
  it("signs the next replies with the renewed certificate, exchanges in flight across the swap all answer, and the next NATS reconnect presents it", {
    timeout: 60_000,
  }, async () => {
    const { config, files, original } = connectorFolder("renewal");
    const c = await startXbus(["connector", "--config", config]);
    const metricsUrl = /metrics (http:\S+)/.exec(c.ready)?.[1] ?? "";
    let release = () => {};
    try {
      const first = await fetchName();
      expect(signedWith(first.exchangeId, [original.cert])).toBe(original.cert);
      expect(await daysToExpiry(metricsUrl)).toBeGreaterThan(80);

      const renewed = stack.issueIdentity("connector-dcrc-renewed", {
        role: "connector",
        spiffeId: DCRC_CONNECTOR,
        commonName: "dcrc connector (renewed)",
        validityDays: 30,
      });
      // Exchanges held at the adapter, on the adapter client of the old certificate, while the files change.
      held = new Promise<void>((r) => {
        release = r;
      });
      const callsBefore = adapterCalls;
      const during = Array.from({ length: 4 }, fetchName);
      while (adapterCalls < callsBefore + 4) await new Promise((r) => setTimeout(r, 20));
      writeFileSync(files.key, renewed.keyPem);
      writeFileSync(files.cert, renewed.certPem);
      await c.waitFor(
        (_, err) =>
          logLines(err).some(
            (l) =>
              l.msg ===
                "renewed TLS files in force: new replies, adapter calls and NATS reconnects use them" &&
              l.cert_serial === renewed.serial,
          ),
        "the renewal's log line",
      );
      // And some that start on the new adapter client, held too.
      const after = Array.from({ length: 3 }, fetchName);
      while (adapterCalls < callsBefore + 7) await new Promise((r) => setTimeout(r, 20));
      release();
      held = undefined;
      const answered = await Promise.all([...during, ...after]);
      expect(answered.map((r) => r.releasedFields)).toEqual(Array(7).fill(["name"]));
      // Each reply is whole: signed with the key of the certificate it names.
      for (const r of answered) signedWith(r.exchangeId, [original.cert, renewed.certPem]);
      const next = await fetchName();
      expect(signedWith(next.exchangeId, [original.cert, renewed.certPem])).toBe(renewed.certPem);
      expect(await daysToExpiry(metricsUrl)).toBeLessThan(30);

      // On NATS the renewed certificate is presented from the next reconnect.
      await reconnectedWith([original.cert, renewed.certPem]);
      const back = await fetchNameOnceBack();
      expect(signedWith(back.exchangeId, [renewed.certPem])).toBe(renewed.certPem);

      const line = logLines(c.stderr()).find((l) => l.cert_serial === renewed.serial);
      expect(line).toMatchObject({
        level: "info",
        spiffe_id: DCRC_CONNECTOR,
        not_after: new Date(new X509Certificate(renewed.certPem).validTo).toISOString(),
      });
    } finally {
      release();
      held = undefined;
      c.child.kill("SIGTERM");
    }
    expect(await c.exited).toBe(0);
    expect(c.stderr()).not.toContain("PRIVATE KEY");
  });

  it("refuses a bad renewal (another agency's, another connector's, half written, garbage) with one log line naming the file and the reason, and keeps serving with the certificate in force, on NATS reconnects too", {
    timeout: 60_000,
  }, async () => {
    const { config, files, original } = connectorFolder("bad-renewal");
    const c = await startXbus(["connector", "--config", config]);
    const refusals = () =>
      logLines(c.stderr()).filter((l) => l.msg === "new TLS files not taken (yet); the ones in force stay");
    /** Writes the files, waits for a refusal with this reason, and checks the next reply is the old certificate's. */
    const refused = async (write: { cert?: string; key?: string }, reason: string) => {
      if (write.key !== undefined) writeFileSync(files.key, write.key);
      if (write.cert !== undefined) writeFileSync(files.cert, write.cert);
      await c.waitFor(
        () => refusals().some((l) => (l.err as { message?: string } | undefined)?.message === reason),
        `the refusal "${reason}"`,
      );
      const res = await fetchName();
      expect(signedWith(res.exchangeId, [original.cert])).toBe(original.cert);
    };
    try {
      const renewed = stack.issueIdentity("connector-dcrc-renewed-2", {
        role: "connector",
        spiffeId: DCRC_CONNECTOR,
        commonName: "dcrc connector (renewed, key not written)",
      });
      await refused(
        { cert: renewed.certPem },
        `${config}: tls.key: ${files.key} is not the key of the certificate in ${files.cert}`,
      );
      const moh = stack.issueIdentity("connector-moh-renewal", {
        role: "connector",
        spiffeId: "spiffe://gov.bt/agency/moh/connector/dev2",
        commonName: "moh connector (test)",
      });
      const otherAgency = `${config}: tls.cert: ${files.cert} is the certificate of spiffe://gov.bt/agency/moh/connector/dev2, not of a connector of agency dcrc (spiffe://gov.bt/agency/dcrc/connector/<name>)`;
      await refused({ key: moh.keyPem, cert: moh.certPem }, otherAgency);
      // Another connector of dcrc would start, but as a renewal of this one it is refused: the connector
      // keeps the identity it reports (ready line, NATS user, the signer of its replies).
      const c2 = stack.issueIdentity("connector-dcrc-c2", {
        role: "connector",
        spiffeId: "spiffe://gov.bt/agency/dcrc/connector/c2",
        commonName: "dcrc connector c2 (test)",
      });
      const otherConnector = `${config}: tls.cert: ${files.cert} is the certificate of spiffe://gov.bt/agency/dcrc/connector/c2, not of ${DCRC_CONNECTOR}, the identity in force (a renewal keeps the SPIFFE ID; another identity needs a restart)`;
      await refused({ key: c2.keyPem, cert: c2.certPem }, otherConnector);
      await refused(
        { cert: "-----BEGIN CERTIFICATE-----\ngarbage" },
        `${config}: tls.cert: ${files.cert} holds no PEM certificate`,
      );

      // The files now hold garbage and moh's key. A reconnect presents the identity in force regardless.
      await reconnectedWith([original.cert, original.cert]);
      const back = await fetchNameOnceBack();
      expect(signedWith(back.exchangeId, [original.cert])).toBe(original.cert);

      // Each refusal is one warning naming the file it is about, once per set of files: writing both files
      // wakes a listener for each, and the set they read is logged once.
      const reasons = refusals().map((l) => (l.err as { message?: string } | undefined)?.message);
      expect(reasons.filter((r) => r === otherAgency)).toHaveLength(1);
      expect(reasons.filter((r) => r === otherConnector)).toHaveLength(1);
      for (const l of refusals()) {
        expect(l).toMatchObject({ level: "warn", part: "tls", cert: files.cert });
        expect((l.err as { message: string }).message).toContain(files.cert);
      }
      // Putting the files back as they were is no change.
      writeFileSync(files.key, original.key);
      writeFileSync(files.cert, original.cert);
      const res = await fetchName();
      expect(signedWith(res.exchangeId, [original.cert])).toBe(original.cert);
      expect(renewalLines(c.stderr())).toEqual([]);
    } finally {
      c.child.kill("SIGTERM");
    }
    expect(await c.exited).toBe(0);
    expect(c.stderr()).not.toContain("PRIVATE KEY");
    expect(c.stderr()).not.toContain("garbage");
  });
});

describe("xbus connector, its certificate renewed while it waits for NATS", () => {
  it("takes the renewal once and presents it on the NATS connection that ends the wait, and signs with it", {
    timeout: 60_000,
  }, async () => {
    const { config, files, original } = connectorFolder("late-nats");
    const server = stack.nats as NatsServer;
    await server.stop();
    const c = spawnXbus(["connector", "--config", config]);
    try {
      await c.waitFor((_, err) => err.includes("NATS is not reachable yet"), "the wait for NATS");
      const renewed = stack.issueIdentity("connector-dcrc-late", {
        role: "connector",
        spiffeId: DCRC_CONNECTOR,
        commonName: "dcrc connector (renewed during the wait)",
      });
      writeFileSync(files.key, renewed.keyPem);
      writeFileSync(files.cert, renewed.certPem);
      const renewals = () => renewalLines(c.stderr());
      await c.waitFor(
        () => renewals().some((l) => l.cert_serial === renewed.serial),
        "the renewal's log line during the wait",
      );

      await server.restart();
      await c.waitFor((out) => out.includes("\n"), "ready line");
      expect(c.stdout()).toContain(`dcrc ready as ${DCRC_CONNECTOR}`);
      // No reconnect needed: the child's first connection presents the renewal (the stack's own idle
      // connector, back too, keeps the certificate it was issued).
      await vi.waitFor(
        async () =>
          expect(await natsClientCertificates(server.monitorUrl ?? "", "xbus-connector-dcrc-dev")).toEqual(
            expect.arrayContaining([
              { user: DCRC_CONNECTOR, certSha256: certificateSha256(original.cert) },
              { user: DCRC_CONNECTOR, certSha256: certificateSha256(renewed.certPem) },
            ]),
          ),
        { timeout: 20_000, interval: 100 },
      );
      const res = await fetchNameOnceBack();
      expect(signedWith(res.exchangeId, [original.cert, renewed.certPem])).toBe(renewed.certPem);
      expect(renewals()).toHaveLength(1);
    } finally {
      c.child.kill("SIGTERM");
      if (!server.running) await server.restart();
    }
    expect(await c.exited).toBe(0);
    expect(c.stderr()).not.toContain("not taken");
    expect(c.stderr()).not.toContain("PRIVATE KEY");
  });
});
