import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  buildCrl,
  type CertificateAuthority,
  certificateExpiry,
  createCa,
  initCaDir,
} from "../../certs/index.js";
import { createServiceClient, type ServiceClient } from "../../core/rpc/index.js";
import { Exchange } from "../../proto/gen/xbus/v1/exchange_pb.js";
import type { NatsServer } from "../../stack/index.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";
import {
  brokerCertificate,
  certificateSha256,
  natsClientCertificates,
  serverCertificateSerial,
} from "../helpers/tls.js";

/*
 * Rotation without an outage, against the real stack: the broker's
 * certificate is renewed on disk while consumers keep calling, on open
 * connections and on new ones; and a second CA joins the trust bundle.
 */
const SERVICE = "dcrc.citizen-record";
const PURPOSE = "scholarship-eligibility";

let stack: TestStack;
let subject: string;
const clients: { close(): void }[] = [];
/** The broker's TLS log lines (`part: tls`): refusals of a reload, its certificate's expiry. */
const tlsLog: Record<string, unknown>[] = [];

beforeAll(async () => {
  stack = await startTestStack({
    natsMonitor: true,
    onLog: (l) => {
      if (l.includes('"part":"tls"')) tlsLog.push(JSON.parse(l) as Record<string, unknown>);
    },
  });
  subject = stack.population.citizens[1]?.id ?? "";
});
afterAll(async () => {
  for (const c of clients) c.close();
  await stack?.close();
});

function client(identity: { cert: string; key: string } = stack.consumer, ca = stack.ca.certPem) {
  const creds = credentials.createSsl(Buffer.from(ca), Buffer.from(identity.key), Buffer.from(identity.cert));
  const c = createServiceClient(Exchange, stack.brokerAddress, creds, {
    "grpc.use_local_subchannel_pool": 1,
  });
  clients.push(c);
  return c as unknown as ServiceClient<typeof Exchange.method>;
}

/** The serial of the certificate the broker shows a new connection. */
const brokerSerial = () =>
  serverCertificateSerial(stack.brokerAddress, {
    ca: stack.ca.certPem,
    cert: stack.consumer.cert,
    key: stack.consumer.key,
  });

describe("rotation", () => {
  it("renews the broker's certificate while calls run, with no failed call", async () => {
    const old = stack.brokerCert;
    expect(await brokerSerial()).toBe(old.serial);
    let ok = 0;
    const failures: unknown[] = [];
    let stop = false;
    // Two loops on long-lived connections, one that opens a new connection for every call.
    const loop = async (fresh: boolean) => {
      const shared = client();
      while (!stop) {
        try {
          const c = fresh ? client() : shared;
          await c.fetch(
            { service: SERVICE, subjectId: subject, purpose: PURPOSE, fields: ["name"] },
            deadline(10_000),
          );
          ok++;
          if (fresh) c.close();
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const loops = [loop(false), loop(false), loop(true)];
    await vi.waitFor(() => expect(ok).toBeGreaterThan(20), { timeout: 20_000, interval: 20 });

    const renewed = stack.issueIdentity("broker", {
      role: "broker",
      spiffeId: old.spiffeId ?? "",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1", "::1"],
      validityDays: 30,
    });
    expect(renewed.serial).not.toBe(old.serial);
    // Picked up from disk by the broker's own file watch, no restart.
    await vi.waitFor(async () => expect(await brokerSerial()).toBe(renewed.serial), {
      timeout: 20_000,
      interval: 100,
    });
    const afterSwap = ok;
    await vi.waitFor(() => expect(ok).toBeGreaterThan(afterSwap + 20), { timeout: 20_000, interval: 20 });
    stop = true;
    await Promise.all(loops);

    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(40);
  });

  it("takes a second CA into the trust bundle during a rollover, with its CRL", async () => {
    const next = initCaDir({
      dir: `${stack.dir}/ca-next`,
      trustDomain: "gov.bt",
      commonName: "gov.bt federation CA 2",
    });
    const issued = next.issue({ role: "system", spiffeId: "spiffe://gov.bt/agency/moe/system/scholarships" });
    const fromNextCa = { cert: issued.certPem, key: issued.keyPem };
    const bundle = `${stack.ca.certPem}${next.ca.certPem}`;
    // Before: a certificate of the new CA is a stranger.
    expect(
      (
        await failure(
          client(fromNextCa, bundle).fetch(
            { service: SERVICE, subjectId: subject, purpose: PURPOSE },
            deadline(),
          ),
        )
      ).code,
    ).toBe(status.UNAVAILABLE);

    // The CRL file gains the new CA's CRL, and the bundle file gains the new CA.
    const caPath = stack.caPath;
    writeFileSync(caPath, bundle);
    expect(stack.reloadBrokerTls()).toBe(true);
    writeFileSync(
      stack.crlPath,
      `${readFileSync(stack.crlPath, "utf8")}${readFileSync(next.paths.crl, "utf8")}`,
    );
    expect(stack.reloadCrl()).toBe(true);

    const res = await client(fromNextCa, bundle).fetch(
      { service: SERVICE, subjectId: subject, purpose: PURPOSE },
      deadline(),
    );
    expect(res.exchangeId).not.toBe("");
    // The old CA's certificates still work.
    expect(
      (await client().fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline()))
        .exchangeId,
    ).not.toBe("");

    // A revocation by the new CA bites too.
    next.revoke({ serial: issued.serial }, "superseded");
    const crlOfBoth = `${buildCrl({ caCertPem: stack.ca.certPem, caKeyPem: stack.ca.keyPem, entries: [], number: 1000 })}${readFileSync(next.paths.crl, "utf8")}`;
    writeFileSync(stack.crlPath, crlOfBoth);
    expect(stack.reloadCrl()).toBe(true);
    expect(
      (
        await failure(
          client(fromNextCa, bundle).fetch(
            { service: SERVICE, subjectId: subject, purpose: PURPOSE },
            deadline(),
          ),
        )
      ).code,
    ).toBe(status.UNAVAILABLE);
  });
});

/*
 * A reload takes only what the broker would start with (`xbus broker`'s
 * start-up checks, which the stack's broker runs too): each wrong set written
 * over its files is refused with one warning naming the file and the reason,
 * and new clients still meet the certificate in force.
 */
describe("reload checks", () => {
  const REFUSED = "new TLS files not taken (yet); the ones in force stay";
  const refusals = () => tlsLog.filter((l) => l.msg === REFUSED);
  const BROKER = "spiffe://gov.bt/xbus/broker/dev";
  const wanted = "not of a broker of trust domain gov.bt (spiffe://gov.bt/xbus/broker/<name>)";
  const DAY = 86_400_000;
  const brokerOf = (ca: CertificateAuthority, o: Parameters<typeof brokerCertificate>[2] = {}) =>
    brokerCertificate(ca, "dev", o);

  /** Writes a set over the broker's files and reloads it: refused once with `reason`, the old certificate stays. */
  async function refused(write: { cert: string; key: string }, reason: (certFile: string) => string) {
    const { certPath, keyPath } = stack.brokerCert;
    const before = await brokerSerial();
    const seen = refusals().length;
    writeFileSync(keyPath, write.key);
    writeFileSync(certPath, write.cert);
    expect(stack.reloadBrokerTls()).toBe(false);
    // The file watch reads the same set again: it is not logged twice.
    expect(stack.reloadBrokerTls()).toBe(false);
    expect(refusals().slice(seen)).toEqual([
      expect.objectContaining({
        level: "warn",
        cert: certPath,
        err: { name: "Error", message: reason(certPath) },
      }),
    ]);
    expect(await brokerSerial()).toBe(before);
    const res = await client().fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline());
    expect(res.exchangeId).not.toBe("");
  }

  it("refuses a connector's certificate and key", async () => {
    const dcrc = stack.adapters.find((a) => a.agency === "dcrc")?.client;
    if (!dcrc) throw new Error("the stack runs no dcrc connector");
    await refused(
      dcrc,
      (f) => `${f} is the certificate of spiffe://gov.bt/agency/dcrc/connector/dev, ${wanted}`,
    );
  });

  it("refuses an expired certificate", async () => {
    const expired = brokerOf(stack.ca, {
      notBefore: new Date(Date.now() - 10 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    const notAfter = new Date(new X509Certificate(expired.cert).validTo).toISOString();
    await refused(expired, (f) => `${f} expired on ${notAfter}`);
  });

  it("refuses a certificate from a CA outside the trust bundle", async () => {
    await refused(
      brokerOf(createCa({ trustDomain: "gov.bt" })),
      (f) => `${f} was not issued by a CA of the trust bundle`,
    );
  });

  it("refuses a broker certificate of another trust domain", async () => {
    await refused(
      brokerOf(createCa({ trustDomain: "gov.in" })),
      (f) => `${f} is the certificate of spiffe://gov.in/xbus/broker/dev, ${wanted}`,
    );
  });

  it("refuses another broker's certificate: a renewal keeps the broker's SPIFFE ID", async () => {
    await refused(
      brokerOf(stack.ca, { spiffeId: "spiffe://gov.bt/xbus/broker/other" }),
      (f) =>
        `${f} is the certificate of spiffe://gov.bt/xbus/broker/other, not of ${BROKER}, the identity in force (a renewal keeps the SPIFFE ID; another identity needs a restart)`,
    );
  });

  it("still takes up a proper renewal after refusals, presents it on NATS from the next reconnect, and logs no key", async () => {
    const renewed = stack.issueIdentity("broker", {
      role: "broker",
      spiffeId: BROKER,
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1", "::1"],
    });
    expect(stack.reloadBrokerTls()).toBe(true);
    expect(await brokerSerial()).toBe(renewed.serial);
    expect(tlsLog.at(-1)).toMatchObject({ msg: "own certificate", cert_serial: renewed.serial });
    expect(refusals()).toHaveLength(5);
    expect(JSON.stringify(tlsLog)).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);

    // The broker's NATS connections, its indexer's too, present the renewal from their next reconnect.
    const nats = stack.nats as NatsServer;
    await nats.stop();
    await nats.restart();
    const want = [{ user: BROKER, certSha256: certificateSha256(renewed.cert) }];
    await vi.waitFor(
      async () => {
        expect(await natsClientCertificates(nats.monitorUrl ?? "", "xbus-broker-dev")).toEqual(want);
        expect(await natsClientCertificates(nats.monitorUrl ?? "", "xbus-indexer-dev")).toEqual(want);
      },
      { timeout: 20_000, interval: 100 },
    );
    const res = await vi.waitFor(
      () => client().fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline(2000)),
      { timeout: 20_000, interval: 200 },
    );
    expect(res.exchangeId).not.toBe("");
  });
});

describe("expiry", () => {
  it("says how many days a certificate has left and warns from 14", () => {
    const soon = stack.issue("soon", { commonName: "soon", usage: "client", validityDays: 10 });
    expect(certificateExpiry(soon.cert)).toMatchObject({ daysToExpiry: 9, warn: true });
    expect(certificateExpiry(stack.consumer.cert)).toMatchObject({ daysToExpiry: 89, warn: false });
  });
});
