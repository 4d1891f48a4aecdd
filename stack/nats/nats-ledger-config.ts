import { type LedgerCertificate, statusOf } from "../../certs/index.js";
import { parseWorkloadId } from "../../core/contract/index.js";
import { natsUsersConfig } from "./nats-auth.js";

/**
 * The NATS users of a federation, from the CA's ledger: every identity with a
 * live certificate (not revoked, not expired) of a role that uses NATS. The
 * core gets brokers, admins, connectors and leaf nodes (leaf nodes on leaf-node
 * connections only); each agency's leaf gets its own connectors. nats-server
 * 2.9 reads no CRL: regenerating these files after `xbus certs revoke` and
 * reloading the servers is how a revocation reaches NATS. A user is a SPIFFE
 * ID, so an identity is cut off once none of its certificates is live.
 */
export interface NatsLedgerConfig {
  /** `core-auth.conf` */
  core: string;
  /** `leaf-<agency>-auth.conf` per agency that has a live leaf certificate. */
  leaves: Map<string, string>;
}

const NATS_ROLES = new Set(["broker", "log", "admin", "connector", "leaf"]);

export function natsConfigFromLedger(
  certificates: readonly LedgerCertificate[],
  now = new Date(),
): NatsLedgerConfig {
  const live = new Set<string>();
  for (const c of certificates) {
    if (!c.spiffeId || !NATS_ROLES.has(c.role)) continue;
    const status = statusOf(c, now);
    if (status === "valid" || status === "expiring") live.add(c.spiffeId);
  }
  const ids = [...live].sort();
  const leaves = new Map<string, string>();
  for (const id of ids) {
    const w = parseWorkloadId(id);
    if (w.role !== "leaf" || leaves.has(w.agency)) continue;
    const connectors = ids.filter((c) => {
      const p = parseWorkloadId(c);
      return p.role === "connector" && p.agency === w.agency;
    });
    leaves.set(w.agency, natsUsersConfig(connectors));
  }
  return { core: natsUsersConfig(ids), leaves };
}
