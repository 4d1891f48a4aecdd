import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildCrl, createCa, issueCertificate } from "../../certs/index.js";
import { createServiceClient, type ServiceClient } from "../../core/rpc/index.js";
import { Exchange } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { deadline, failure, startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * Every kind of certificate the broker must refuse, each for its own reason,
 * against the real stack (nats-server, mutual TLS, the CRL file the CA folder
 * publishes). A handshake refusal reaches no code of ours: the client sees
 * UNAVAILABLE and nothing is recorded. A refusal after the handshake is an
 * UNAUTHENTICATED or PERMISSION_DENIED status with its reason, and recorded.
 */
const SERVICE = "dcrc.citizen-record";
const PURPOSE = "scholarship-eligibility";
const DAY = 86_400_000;

let stack: TestStack;
let subject: string;
const clients: { close(): void }[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  subject = stack.population.citizens[0]?.id ?? "";
});
afterAll(async () => {
  for (const c of clients) c.close();
  await stack?.close();
});

/** A client on its own connection: grpc-js would otherwise share one between clients with equal credentials. */
function client(
  identity: { cert: string; key: string } | null,
  ca = stack.ca.certPem,
): ServiceClient<typeof Exchange.method> {
  const creds = identity
    ? credentials.createSsl(Buffer.from(ca), Buffer.from(identity.key), Buffer.from(identity.cert))
    : credentials.createSsl(Buffer.from(ca));
  const c = createServiceClient(Exchange, stack.brokerAddress, creds, {
    "grpc.use_local_subchannel_pool": 1,
  });
  clients.push(c);
  return c as unknown as ServiceClient<typeof Exchange.method>;
}

const fetch = (c: ServiceClient<typeof Exchange.method>) =>
  c.fetch({ service: SERVICE, subjectId: subject, purpose: PURPOSE }, deadline());

type Verdict = { handshake: RegExp } | { code: status; reason: string };

/**
 * Why TLS refuses a client certificate. Node's TLS server drops a connection
 * whose client certificate fails verification without telling the client
 * why (grpc-js says only "Failed to connect"), so the reason is read from
 * OpenSSL's own verifier, with the broker's CA and CRL files and the TLS
 * client purpose — the same checks the broker's TLS stack makes.
 */
function whyRefused(identity: { cert: string; key: string }): string {
  const file = join(stack.dir, `verify-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(file, identity.cert);
  const r = spawnSync(
    "openssl",
    [
      "verify",
      "-purpose",
      "sslclient",
      "-crl_check",
      "-CAfile",
      stack.caPath,
      "-CRLfile",
      stack.crlPath,
      file,
    ],
    { encoding: "utf8" },
  );
  return r.status === 0 ? "accepted" : `${r.stdout}${r.stderr}`;
}

/** With no client certificate at all the server does send an alert. */
function noCertificateAlert(): Promise<string> {
  const port = Number(stack.brokerAddress.split(":").at(-1));
  return new Promise((resolve) => {
    const socket = connect({ host: "localhost", port, ca: stack.ca.certPem, ALPNProtocols: ["h2"] });
    socket.on("error", (err) => {
      socket.destroy();
      resolve(err.message);
    });
    socket.on("close", () => resolve("closed without an alert"));
  });
}

function pair(c: { certPem: string; keyPem: string }) {
  return { cert: c.certPem, key: c.keyPem };
}

describe("refused certificates", () => {
  const consumerId = "spiffe://gov.bt/agency/moe/system/scholarships";
  const table: [string, () => { cert: string; key: string } | null, Verdict][] = [
    ["no certificate", () => null, { handshake: /alert certificate required/ }],
    [
      "a certificate from another CA",
      () =>
        pair(
          issueCertificate(createCa({ trustDomain: "gov.bt" }), {
            spiffeId: consumerId,
            commonName: "x",
            usage: "client",
          }),
        ),
      { handshake: /unable to get local issuer certificate/ },
    ],
    [
      "an expired certificate",
      () =>
        pair(
          issueCertificate(stack.ca, {
            spiffeId: consumerId,
            commonName: "expired",
            usage: "client",
            notBefore: new Date(Date.now() - 30 * DAY),
            notAfter: new Date(Date.now() - DAY),
          }),
        ),
      { handshake: /certificate has expired/ },
    ],
    [
      "a certificate not yet valid",
      () =>
        pair(
          issueCertificate(stack.ca, {
            spiffeId: consumerId,
            commonName: "future",
            usage: "client",
            notBefore: new Date(Date.now() + DAY),
          }),
        ),
      { handshake: /certificate is not yet valid/ },
    ],
    [
      "a server-only certificate used as a client",
      () =>
        stack.issueIdentity("adapter-as-client", {
          role: "adapter",
          spiffeId: "spiffe://gov.bt/agency/moe/adapter/a1",
          dnsNames: ["localhost"],
        }),
      { handshake: /unsuitable certificate purpose/ },
    ],
    [
      "a SPIFFE ID in another trust domain (signed by our CA)",
      // A CA that mis-issued: the broker must not trust the ID just because the signature is ours.
      () =>
        pair(
          issueCertificate(
            { ...stack.ca, trustDomain: "gov.in" },
            {
              spiffeId: "spiffe://gov.in/agency/moe/system/scholarships",
              commonName: "foreign",
              usage: "client",
            },
          ),
        ),
      { code: status.UNAUTHENTICATED, reason: "WRONG_TRUST_DOMAIN" },
    ],
    [
      "no SPIFFE ID",
      () => pair(issueCertificate(stack.ca, { commonName: "anonymous", usage: "client" })),
      { code: status.UNAUTHENTICATED, reason: "NO_SPIFFE_ID" },
    ],
    [
      "a connector's certificate calling Exchange.Fetch",
      () =>
        stack.issueIdentity("connector-moe", {
          role: "connector",
          spiffeId: "spiffe://gov.bt/agency/moe/connector/c1",
        }),
      { code: status.PERMISSION_DENIED, reason: "WRONG_ROLE" },
    ],
  ];

  it.each(table)("%s", async (_name, identity, verdict) => {
    const before = stack.outcomes.length;
    const id = identity();
    const err = await failure(fetch(client(id)));
    if ("handshake" in verdict) {
      expect(id ? whyRefused(id) : await noCertificateAlert()).toMatch(verdict.handshake);
      // Refused by TLS: the broker's handlers never ran.
      expect(err.code).toBe(status.UNAVAILABLE);
      expect(err.reason).toBeUndefined();
      expect(stack.outcomes.length).toBe(before);
    } else {
      expect(err.code).toBe(verdict.code);
      expect(err.reason).toBe(verdict.reason);
      expect(stack.outcomes.at(-1)).toMatchObject({ status: verdict.reason });
    }
  });
});

describe("revocation", () => {
  it("refuses a certificate revoked while its connection is open on the next call, and new connections at the handshake", async () => {
    const id = "spiffe://gov.bt/agency/moe/system/scholarships-2";
    const cert = stack.issueIdentity("revoked-open", { role: "system", spiffeId: id });
    const open = client(cert);
    // Not granted, but through TLS and identity: policy is as far as it gets.
    expect((await failure(fetch(open))).reason).toBe("POLICY_DENIED");

    stack.caDir.revoke({ serial: cert.serial }, "keyCompromise");
    stack.reloadCrl();

    const onOpen = await failure(fetch(open));
    expect(onOpen.code).toBe(status.UNAUTHENTICATED);
    expect(onOpen.reason).toBe("CERT_REVOKED");
    expect(onOpen.details).toContain(cert.serial);

    const before = stack.outcomes.length;
    const onNew = await failure(fetch(client(cert)));
    expect(onNew.code).toBe(status.UNAVAILABLE);
    expect(whyRefused(cert)).toMatch(/certificate revoked/);
    expect(stack.outcomes.length).toBe(before);
  });

  it("picks up a new CRL file by itself, without a restart", async () => {
    const cert = stack.issueIdentity("revoked-watch", {
      role: "system",
      spiffeId: "spiffe://gov.bt/agency/moe/system/watch",
    });
    const open = client(cert);
    expect((await failure(fetch(open))).reason).toBe("POLICY_DENIED");
    stack.caDir.revoke({ spiffeId: "spiffe://gov.bt/agency/moe/system/watch" }, "privilegeWithdrawn");
    // No reloadCrl(): the broker's file watch must notice.
    await vi.waitFor(async () => expect((await failure(fetch(open))).reason).toBe("CERT_REVOKED"), {
      timeout: 15_000,
      interval: 100,
    });
  });

  it("keeps the CRL in force when the file is replaced by one it cannot trust", async () => {
    const cert = stack.issueIdentity("revoked-kept", {
      role: "system",
      spiffeId: "spiffe://gov.bt/agency/moe/system/kept",
    });
    stack.caDir.revoke({ serial: cert.serial }, "keyCompromise");
    stack.reloadCrl();
    const impostor = createCa({ trustDomain: "gov.bt" });
    const forged = buildCrl({
      caCertPem: impostor.certPem,
      caKeyPem: impostor.keyPem,
      entries: [],
      number: 999,
    });
    for (const replacement of [forged, "not a CRL at all\n"]) {
      writeFileSync(stack.crlPath, replacement);
      expect(stack.reloadCrl()).toBe(false);
      expect((await failure(fetch(client(cert)))).code).toBe(status.UNAVAILABLE);
    }
    stack.caDir.publishCrl();
    expect(stack.reloadCrl()).toBe(true);
    // The consumer the stack runs with is untouched by all of this.
    const ok = await client(stack.consumer).fetch(
      { service: SERVICE, subjectId: subject, purpose: PURPOSE },
      deadline(),
    );
    expect(ok.exchangeId).not.toBe("");
  });
});
