import type { PeerCertificate } from "node:tls";
import { parseWorkloadId, spiffeIdsFromSubjectAltName, type WorkloadId } from "../../core/contract/index.js";
import { XbusError } from "../../core/index.js";

export interface PeerIdentity {
  readonly id: WorkloadId;
  /** Upper-case hex serial of the client certificate. */
  readonly serial: string;
}

/**
 * Who is calling, from the client certificate that TLS already verified
 * against the federation CA. Exactly one SPIFFE ID, in our trust domain, or
 * the call goes no further.
 */
export function identifyPeer(
  cert: PeerCertificate | undefined,
  trustDomain: string,
  isRevoked: (serial: string) => boolean = () => false,
): PeerIdentity {
  if (!cert?.raw)
    throw new XbusError("NO_CLIENT_CERT", "a client certificate from the federation CA is required");
  // TLS checked the CRL when the connection opened; a later revocation is caught here, on the next call.
  if (isRevoked(cert.serialNumber)) {
    throw new XbusError(
      "CERT_REVOKED",
      `the client certificate (serial ${cert.serialNumber.toUpperCase()}) is revoked`,
    );
  }
  const ids = spiffeIdsFromSubjectAltName(cert.subjectaltname);
  if (ids.length === 0)
    throw new XbusError("NO_SPIFFE_ID", "the client certificate carries no SPIFFE ID (URI SAN)");
  if (ids.length > 1)
    throw new XbusError("BAD_SPIFFE_ID", "the client certificate carries more than one SPIFFE ID");
  const id = parseWorkloadId(ids[0] as string);
  if (id.trustDomain !== trustDomain) {
    throw new XbusError("WRONG_TRUST_DOMAIN", `SPIFFE ID ${id.uri} is not in trust domain ${trustDomain}`);
  }
  return { id, serial: cert.serialNumber.toUpperCase() };
}
