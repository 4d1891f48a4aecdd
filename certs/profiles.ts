import type { Role } from "../core/contract/index.js";
import type { CertUsage } from "./issue.js";

/**
 * What each kind of identity may do with its certificate. The extended key
 * usage is part of the certificate, so a system's client certificate cannot
 * serve TLS and an adapter's server certificate cannot be used to call the
 * broker: TLS refuses both before any code of ours runs.
 *
 * `server` is for infrastructure without a workload identity (nats-server):
 * a TLS server certificate with DNS and IP names only.
 */
export type CertRole = Role | "server";

export const PROFILES: Readonly<Record<CertRole, { usage: CertUsage; needsServerNames: boolean }>> = {
  system: { usage: "client", needsServerNames: false },
  connector: { usage: "client", needsServerNames: false },
  reviewer: { usage: "client", needsServerNames: false },
  // The broker serves consumers and is itself a client of NATS.
  broker: { usage: "client-server", needsServerNames: true },
  adapter: { usage: "server", needsServerNames: true },
  server: { usage: "server", needsServerNames: true },
  // Creates and changes JetStream streams and buckets (xbus federation init); never serves.
  admin: { usage: "client", needsServerNames: false },
  // A core nats-server's cluster identity: routes are dialed and accepted with the same certificate.
  route: { usage: "client-server", needsServerNames: true },
  // An agency's leaf nats-server dials the core; its own listener for connectors uses a `server` certificate.
  leaf: { usage: "client", needsServerNames: false },
  // The log service on NATS (xbus log serve): reads the stream, writes the signed head; its review API
  // serves TLS with a `server` certificate of its own.
  log: { usage: "client", needsServerNames: false },
};

export function isCertRole(value: string): value is CertRole {
  return Object.hasOwn(PROFILES, value);
}
