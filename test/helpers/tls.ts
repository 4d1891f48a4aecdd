import { createHash, X509Certificate } from "node:crypto";
import { connect } from "node:tls";
import { type CertificateAuthority, issueCertificate } from "../../certs/index.js";

/**
 * The serial (upper-case hex) of the certificate a gRPC server at `address`
 * (host:port) shows a new TLS connection: how tests see which certificate a
 * server has put in force.
 */
export function serverCertificateSerial(
  address: string,
  client: { ca: string; cert: string; key: string },
): Promise<string> {
  const cut = address.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const s = connect(
      { host: address.slice(0, cut), port: Number(address.slice(cut + 1)), ...client, ALPNProtocols: ["h2"] },
      () => {
        const serial = s.getPeerCertificate().serialNumber.toUpperCase();
        s.destroy();
        resolve(serial);
      },
    );
    s.on("error", reject);
  });
}

/** A certificate's SHA-256 (lowercase hex of its DER), as nats-server's monitoring names a client's. */
export const certificateSha256 = (pem: string): string =>
  createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");

/**
 * What each open connection named `name` presented to a nats-server started
 * with `monitor` (its `/connz`): the NATS user its certificate mapped to and
 * the certificate's SHA-256. How tests see which identity a client's NATS
 * connection presents; empty while it is away (reconnecting, say).
 */
export async function natsClientCertificates(
  monitorUrl: string,
  name: string,
): Promise<{ user: string | undefined; certSha256: string | undefined }[]> {
  const res = await fetch(`${monitorUrl}/connz?auth=true&limit=1024`);
  if (!res.ok) throw new Error(`${monitorUrl}/connz answered ${res.status}`);
  const connz = (await res.json()) as {
    connections?: {
      name?: string;
      authorized_user?: string;
      tls_peer_certs?: { cert_sha256?: string }[];
    }[];
  };
  return (connz.connections ?? [])
    .filter((c) => c.name === name)
    .map((c) => ({ user: c.authorized_user, certSha256: c.tls_peer_certs?.[0]?.cert_sha256 }));
}

/**
 * A broker certificate of `ca`'s trust domain (`spiffe://<td>/xbus/broker/<name>`, for localhost) and its key,
 * as PEM; `overrides` bend it into what a reload must refuse (expired, another ID, another usage).
 */
export function brokerCertificate(
  ca: CertificateAuthority,
  name: string,
  overrides: Partial<Parameters<typeof issueCertificate>[1]> = {},
): { cert: string; key: string } {
  const c = issueCertificate(ca, {
    spiffeId: `spiffe://${ca.trustDomain}/xbus/broker/${name}`,
    commonName: "xbus broker (test)",
    usage: "client-server",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1", "::1"],
    ...overrides,
  });
  return { cert: c.certPem, key: c.keyPem };
}

const bytes = (b: Buffer) => b;

/** A unary gRPC method on raw bytes (no protobuf), for tests that care only about the TLS under a call. */
export const rawUnaryMethod = (path: string) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
});
