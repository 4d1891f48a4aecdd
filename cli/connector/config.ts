import type { KeyObject, X509Certificate } from "node:crypto";
import { isAgencyName } from "../../core/contract/index.js";
import type { TlsPem } from "../../core/tls/index.js";
import { ConfigError, type Flags, type Identity, settingsReader } from "../config/settings.js";

export { ConfigError };

/**
 * `xbus connector`'s settings (README, "Running a connector"), checked whole
 * before anything starts.
 */
export interface ConnectorConfig {
  agency: string;
  /** The connector's SPIFFE ID, from its certificate. */
  spiffeId: string;
  /** The `<name>` of `spiffe://<td>/agency/<agency>/connector/<name>`. */
  name: string;
  servers: string[];
  /** The files watched for renewals. NATS is never given them: it gets the set in force (core/nats/tls.ts). */
  tlsFiles: { caFile: string; certFile: string; keyFile: string };
  /** The text of those files as checked at start: a renewal is what differs from it. */
  tlsPem: TlsPem;
  /** The connector's certificate and key as they were at start: the reply signer's. */
  certPem: string;
  key: KeyObject;
  certNotAfter: Date;
  brokerKeys: KeyObject[];
  adapter: { address: string; serverName?: string; tls: AdapterTls };
  maxInFlight?: number;
  metrics?: { host: string; port: number };
  /**
   * The start-up checks again, on the tls.* files' text as read after they
   * changed, and the certificate must keep the connector's SPIFFE ID
   * (`spiffeId`): what the connector then signs and calls the adapter with.
   * Throws ConfigError naming the setting, the file and the reason.
   */
  renewed(pem: TlsPem, now?: Date): ConnectorIdentity;
}

export interface AdapterTls {
  ca: string;
  cert: string;
  key: string;
}

/** What a renewal of tls.ca / tls.cert / tls.key changes. */
export interface ConnectorIdentity {
  spiffeId: string;
  certPem: string;
  key: KeyObject;
  certNotAfter: Date;
  /** adapter.ca, adapter.cert and adapter.key, where set, are not watched and stay as they were. */
  adapterTls: AdapterTls;
}

/** Every setting: path in the JSON → its flag. */
export const CONNECTOR_SETTINGS = {
  agency: "agency",
  trust_domain: "trust-domain",
  nats: "nats",
  "tls.ca": "ca",
  "tls.cert": "cert",
  "tls.key": "key",
  broker_keys: "broker-key",
  "adapter.address": "adapter",
  "adapter.server_name": "adapter-server-name",
  "adapter.ca": undefined,
  "adapter.cert": undefined,
  "adapter.key": undefined,
  max_in_flight: "max-in-flight",
  "metrics.port": "metrics-port",
  "metrics.host": undefined,
} as const;

/** Reads, merges and checks the settings; throws ConfigError naming the first problem. */
export function loadConnectorConfig(
  configPath: string | undefined,
  flags: Flags = {},
  now = new Date(),
): ConnectorConfig {
  const r = settingsReader(CONNECTOR_SETTINGS, configPath, flags);

  // Agency first: every later message is about this agency's connector.
  const agency = r.str("agency");
  if (!isAgencyName(agency))
    r.fail(
      "agency",
      `${JSON.stringify(agency.slice(0, 64))} is not an agency name (lowercase letters, digits and dashes, starting with a letter)`,
    );
  const trustDomain = r.optStr("trust_domain");
  const servers = r.natsServers("nats");

  const wanted = `spiffe://${trustDomain ?? "<trust-domain>"}/agency/${agency}/connector/<name>`;
  const expected = (id: { role: string; agency: string; trustDomain: string } | undefined) =>
    id?.role === "connector" && id.agency === agency && (!trustDomain || id.trustDomain === trustDomain)
      ? undefined
      : `a connector of agency ${agency} (${wanted})`;
  const { files, bundle, identity, pem, renewal } = r.ownIdentity(expected, now);

  const brokerKeys = r
    .list("broker_keys")
    .map((p) => r.ed25519("broker_keys", r.path("broker_keys", p), "public"));

  const address = r.hostPort("adapter.address");
  const serverName = r.optStr("adapter.server_name");
  // The adapter admits only connectors of its own agency: by default the same identity as on NATS.
  const adapterCa = r.optPath("adapter.ca");
  const adapterCert = r.optPath("adapter.cert");
  const adapterKey = r.optPath("adapter.key");
  if ((adapterCert === undefined) !== (adapterKey === undefined))
    r.fail(
      adapterCert === undefined ? "adapter.cert" : "adapter.key",
      "adapter.cert and adapter.key go together",
    );
  const adapterBundle = adapterCa === undefined ? undefined : r.certificates("adapter.ca", adapterCa);
  const adapterOwn =
    adapterCert !== undefined && adapterKey !== undefined
      ? r.identity({
          cert: "adapter.cert",
          key: "adapter.key",
          certFile: adapterCert,
          keyFile: adapterKey,
          trusted: [...bundle, ...(adapterBundle ?? bundle)],
          expected,
          now,
        })
      : undefined;
  const pemOf = (certs: readonly X509Certificate[]) => certs.map((c) => c.toString()).join("");
  // Without adapter.* of its own, the adapter hop follows tls.*: a renewal there renews it too.
  const identityOf = (own: Identity, trusted: readonly X509Certificate[]): ConnectorIdentity => ({
    spiffeId: own.id.uri,
    certPem: own.certPem,
    key: own.key,
    certNotAfter: own.notAfter,
    adapterTls: {
      ca: pemOf(adapterBundle ?? trusted),
      cert: adapterOwn?.certPem ?? own.certPem,
      key: adapterOwn?.keyPem ?? own.keyPem,
    },
  });
  const atStart = identityOf(identity, bundle);

  const maxInFlight = r.int("max_in_flight", 1, 100_000);
  const metricsPort = r.int("metrics.port", 0, 65_535);
  const metricsHost = r.optStr("metrics.host");
  if (metricsHost !== undefined && metricsPort === undefined)
    r.fail("metrics.host", "metrics.host needs metrics.port");

  return {
    agency,
    spiffeId: identity.id.uri,
    name: identity.id.name,
    servers,
    tlsFiles: { caFile: files.ca, certFile: files.cert, keyFile: files.key },
    tlsPem: pem,
    certPem: atStart.certPem,
    key: atStart.key,
    certNotAfter: atStart.certNotAfter,
    brokerKeys,
    adapter: { address, ...(serverName !== undefined ? { serverName } : {}), tls: atStart.adapterTls },
    ...(maxInFlight !== undefined ? { maxInFlight } : {}),
    ...(metricsPort !== undefined
      ? { metrics: { host: metricsHost ?? "127.0.0.1", port: metricsPort } }
      : {}),
    renewed(next, at = new Date()) {
      const { bundle: trusted, identity: own } = renewal(next, at);
      return identityOf(own, trusted);
    },
  };
}
