import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { parseWorkloadId, spiffeIdsFromSubjectAltName, type WorkloadId } from "../contract/index.js";
import type { TlsFilePaths, TlsPem } from "./tls-files.js";

/*
 * A process's own identity (its trust bundle, certificate and key), checked
 * the same way at start and at every renewal, by every process: `xbus broker`,
 * `xbus connector` and the stacks stack/ assembles. Reasons name files, never
 * their contents: no key or certificate text reaches a terminal or a log.
 */

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export interface Identity {
  id: WorkloadId;
  /** The certificate file's text (the leaf first, then any chain). */
  certPem: string;
  keyPem: string;
  key: KeyObject;
  notAfter: Date;
}

/** Which of a process's own TLS files a problem is about. */
export type TlsFile = "ca" | "cert" | "key";

export function pemCertificates(file: string, text: string, fail: (why: string) => never): X509Certificate[] {
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) fail(`${file} holds no PEM certificate`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch {
      return fail(`${file} holds a PEM certificate that does not parse`);
    }
  });
}

/**
 * A certificate and its key, from their files' text: the key matches, the
 * certificate carries one SPIFFE ID that `expected` accepts (it returns what
 * it wanted otherwise), it was issued by a CA of `trusted` and is valid at
 * `now`. A problem goes to `fail` with the file it is about and a reason that
 * names the file, never its text.
 */
export function checkIdentity(o: {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  trusted: readonly X509Certificate[];
  expected: (id: WorkloadId | undefined) => string | undefined;
  now: Date;
  fail: (file: "cert" | "key", why: string) => never;
}): Identity {
  const { certPem, keyPem } = o;
  const [cert] = pemCertificates(o.certFile, certPem, (why) => o.fail("cert", why));
  if (!cert) return o.fail("cert", `${o.certFile} holds no PEM certificate`);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return o.fail("key", `${o.keyFile} is not a PEM private key (or it is encrypted)`);
  }
  if (!cert.checkPrivateKey(key))
    o.fail("key", `${o.keyFile} is not the key of the certificate in ${o.certFile}`);
  const ids = spiffeIdsFromSubjectAltName(cert.subjectAltName);
  if (ids.length !== 1 || ids[0] === undefined)
    return o.fail(
      "cert",
      `${o.certFile} carries ${ids.length} SPIFFE IDs; it must carry one, ${o.expected(undefined)}`,
    );
  let id: WorkloadId;
  try {
    id = parseWorkloadId(ids[0]);
  } catch {
    return o.fail("cert", `${o.certFile}: ${ids[0].slice(0, 200)} is not a workload SPIFFE ID`);
  }
  const wanted = o.expected(id);
  if (wanted !== undefined) o.fail("cert", `${o.certFile} is the certificate of ${id.uri}, not of ${wanted}`);
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (o.now < notBefore) o.fail("cert", `${o.certFile} is not valid until ${notBefore.toISOString()}`);
  if (o.now > notAfter) o.fail("cert", `${o.certFile} expired on ${notAfter.toISOString()}`);
  if (!o.trusted.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey)))
    o.fail("cert", `${o.certFile} was not issued by a CA of the trust bundle`);
  return { id, certPem, keyPem, key, notAfter };
}

/**
 * A process's own identity, from the text of its trust bundle, certificate
 * and key files: the start-up checks of every process command (the bundle
 * holds certificates, then checkIdentity against it), and a renewal's. Without
 * `fail`, a problem throws an Error whose message is the reason, naming the
 * file: for a process whose files no setting names (`xbus dev`'s broker).
 */
export function checkOwnTls(o: {
  files: TlsFilePaths;
  pem: TlsPem;
  expected: (id: WorkloadId | undefined) => string | undefined;
  now: Date;
  fail?: (file: TlsFile, why: string) => never;
}): { bundle: X509Certificate[]; identity: Identity } {
  const fail =
    o.fail ??
    ((_: TlsFile, why: string): never => {
      throw new Error(why);
    });
  const bundle = pemCertificates(o.files.ca, o.pem.ca, (why) => fail("ca", why));
  const identity = checkIdentity({
    certFile: o.files.cert,
    keyFile: o.files.key,
    certPem: o.pem.cert,
    keyPem: o.pem.key,
    trusted: bundle,
    expected: o.expected,
    now: o.now,
    fail,
  });
  return { bundle, identity };
}

/**
 * What a renewal of a process's own certificate must be: what `expected`
 * accepts at start, and then the workload in force, `spiffeId`. The SPIFFE ID
 * is the process's identity everywhere it shows: its NATS user and the
 * permissions mapped to it, the ready line, log fields, the service name of
 * the broker's traces and metrics, the signer named in a connector's
 * replies, a broker's default id in receipts. All of them are fixed at
 * start, so a certificate of another workload is a new deployment, which a
 * restart brings up; as a renewal it is refused, naming both IDs.
 */
export function keepsIdentity(
  expected: (id: WorkloadId | undefined) => string | undefined,
  spiffeId: string,
): (id: WorkloadId | undefined) => string | undefined {
  return (id) =>
    expected(id) ??
    (id !== undefined && id.uri !== spiffeId
      ? `${spiffeId}, the identity in force (a renewal keeps the SPIFFE ID; another identity needs a restart)`
      : undefined);
}
