import type { WorkloadId } from "../../core/contract/index.js";
import { checkOwnTls, keepsIdentity, type TlsFilePaths, type TlsPem } from "../../core/tls/index.js";

/** What `xbus broker` and `xbus dev` take as the broker's own certificate; otherwise what they wanted. */
export const brokerOf =
  (trustDomain: string) =>
  (id: WorkloadId | undefined): string | undefined =>
    id?.role === "broker" && id.trustDomain === trustDomain
      ? undefined
      : `a broker of trust domain ${trustDomain} (spiffe://${trustDomain}/xbus/broker/<name>)`;

/**
 * What `xbus log serve` takes as its own certificate: a log service's (`spiffe://<td>/xbus/log/<name>`), or
 * a broker's, as the log service presented before it had a role of its own (its NATS user then gets a
 * broker's permissions, appends and service requests included).
 */
export const logServiceOf =
  (trustDomain: string) =>
  (id: WorkloadId | undefined): string | undefined =>
    (id?.role === "log" || id?.role === "broker") && id.trustDomain === trustDomain
      ? undefined
      : `a log service of trust domain ${trustDomain} (spiffe://${trustDomain}/xbus/log/<name>)`;

/**
 * `checkTls` for a broker whose files no setting names (`xbus dev`'s, which
 * issues its own certificate): the same checks, the renewal keeping the
 * broker's SPIFFE ID, `spiffeId`; the reason names the file.
 */
export const brokerTlsCheck =
  (trustDomain: string, files: TlsFilePaths, spiffeId: string) =>
  (pem: TlsPem, now = new Date()): void =>
    void checkOwnTls({ files, pem, expected: keepsIdentity(brokerOf(trustDomain), spiffeId), now });
