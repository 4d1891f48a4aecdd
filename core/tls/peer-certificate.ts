import type { PeerCertificate } from "node:tls";
import type { ServerUnaryCall } from "@grpc/grpc-js";

export type AuthCall = Pick<ServerUnaryCall<unknown, unknown>, "getAuthContext">;

/**
 * The HTTP/2 session (one TLS connection) a grpc-js call arrived on. grpc-js
 * has no public accessor: this follows its call objects (`call` → `nextCall`…
 * → `stream.session`) and returns undefined if a grpc-js upgrade moved them,
 * in which case callers fall back to the per-call path.
 */
export function peerSessionOf(call: AuthCall): object | undefined {
  let c: unknown = (call as { call?: unknown }).call;
  for (let depth = 0; depth < 8 && typeof c === "object" && c !== null; depth++) {
    const stream = (c as { stream?: { session?: unknown } }).stream;
    if (stream !== undefined) {
      const session = stream?.session;
      return typeof session === "object" && session !== null ? session : undefined;
    }
    c = (c as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/*
 * getPeerCertificate() builds a fresh object (fingerprints, public key, every
 * name) on every call: ~100 µs, 6% of a busy broker. The certificate cannot
 * change during a connection (Node's HTTP/2 disables TLS renegotiation), so it
 * is read once per session; the session, not an address or port, is the key,
 * and the entry goes with it. Revocation is still checked on every call.
 */
const certificateBySession = new WeakMap<object, PeerCertificate | undefined>();

export function peerCertificateOf(call: AuthCall): PeerCertificate | undefined {
  const session = peerSessionOf(call);
  if (session !== undefined && certificateBySession.has(session)) return certificateBySession.get(session);
  const auth = call.getAuthContext();
  const cert = auth.transportSecurityType === "ssl" ? auth.sslPeerCertificate : undefined;
  if (session !== undefined) certificateBySession.set(session, cert);
  return cert;
}
