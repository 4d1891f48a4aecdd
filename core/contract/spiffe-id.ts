import { XbusError } from "../errors.js";

/**
 * Workload identities of the federation, carried as the URI SAN of each
 * certificate:
 *
 *   spiffe://<trust-domain>/agency/<agency>/<role>/<name>   role: system | connector | adapter | reviewer | leaf
 *   spiffe://<trust-domain>/xbus/<role>/<name>              role: broker | admin | route | log
 *
 * The federation's own roles: `admin` creates and changes JetStream streams and
 * buckets (xbus federation init); `route` is the core nats-servers' cluster
 * identity (every node of one cluster carries the same one, since nats-server
 * maps all routes to one user); `leaf` is an agency's leaf nats-server dialing
 * the core; `log` is the log service (xbus log serve): it reads the log stream
 * and holds the signed head's key in KV, and may neither append to the log nor
 * route a request.
 *
 * Only `system` identities may call Exchange.Fetch; the role is part of the
 * certificate, so a connector's key cannot be used to read records.
 */
export type AgencyRole = "system" | "connector" | "adapter" | "reviewer" | "leaf";
export type FederationRole = "broker" | "admin" | "route" | "log";
export type Role = AgencyRole | FederationRole;

export interface WorkloadId {
  readonly uri: string;
  readonly trustDomain: string;
  readonly role: Role;
  /** Empty for the federation's roles (broker, admin, route), which belong to no agency. */
  readonly agency: string;
  readonly name: string;
}

const AGENCY_ROLES: ReadonlySet<string> = new Set<AgencyRole>([
  "system",
  "connector",
  "adapter",
  "reviewer",
  "leaf",
]);
const FEDERATION_ROLES: ReadonlySet<string> = new Set<FederationRole>(["broker", "admin", "route", "log"]);
/** Lowercase DNS-label style: letters, digits, dashes; starts with a letter, no trailing dash. */
export const SEGMENT = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const TRUST_DOMAIN = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/;
const MAX_URI = 2048;

function invalid(uri: string, why: string): XbusError {
  return new XbusError("BAD_SPIFFE_ID", `malformed SPIFFE ID ${JSON.stringify(uri.slice(0, 200))}: ${why}`);
}

/** Parses and checks a workload SPIFFE ID; throws BAD_SPIFFE_ID naming what is wrong. */
export function parseWorkloadId(uri: string): WorkloadId {
  if (uri.length > MAX_URI) throw invalid(uri, "too long");
  const prefix = "spiffe://";
  if (!uri.startsWith(prefix)) throw invalid(uri, "scheme must be spiffe://");
  const rest = uri.slice(prefix.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) throw invalid(uri, "no path");
  const trustDomain = rest.slice(0, slash);
  if (!TRUST_DOMAIN.test(trustDomain) || trustDomain.includes("..")) throw invalid(uri, "bad trust domain");
  const segments = rest.slice(slash + 1).split("/");
  for (const s of segments) {
    if (!SEGMENT.test(s)) throw invalid(uri, `bad path segment ${JSON.stringify(s.slice(0, 64))}`);
  }
  const [a, b, c, d] = segments;
  if (segments.length === 4 && a === "agency" && b && c && d && AGENCY_ROLES.has(c)) {
    return { uri, trustDomain, role: c as AgencyRole, agency: b, name: d };
  }
  if (segments.length === 3 && a === "xbus" && b && c && FEDERATION_ROLES.has(b)) {
    return { uri, trustDomain, role: b as FederationRole, agency: "", name: c };
  }
  throw invalid(
    uri,
    "path must be /agency/<agency>/<system|connector|adapter|reviewer|leaf>/<name> or /xbus/<broker|admin|route>/<name>",
  );
}

export function formatWorkloadId(
  trustDomain: string,
  id: { role: AgencyRole; agency: string; name: string } | { role: FederationRole; name: string },
): string {
  const uri =
    "agency" in id
      ? `spiffe://${trustDomain}/agency/${id.agency}/${id.role}/${id.name}`
      : `spiffe://${trustDomain}/xbus/${id.role}/${id.name}`;
  parseWorkloadId(uri);
  return uri;
}

/**
 * The SPIFFE IDs in a Node `subjectaltname` string ("DNS:a, URI:spiffe://…").
 * Node escapes commas inside names with quotes, so a plain split is safe for
 * URIs that pass parseWorkloadId, which allows no commas or quotes anyway.
 */
export function spiffeIdsFromSubjectAltName(san: string | undefined): string[] {
  if (!san) return [];
  return san
    .split(", ")
    .filter((entry) => entry.startsWith("URI:spiffe://"))
    .map((entry) => entry.slice(4));
}
