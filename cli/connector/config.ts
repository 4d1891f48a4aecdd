import type { KeyObject, X509Certificate } from "node:crypto";
import { z } from "zod";
import { isAgencyName } from "../../core/contract/index.js";
import type { Identity, TlsPem } from "../../core/tls/index.js";
import {
  certificatesSetting,
  ed25519Setting,
  identitySetting,
  ownIdentity,
} from "../config/setting-files.js";
import {
  hostPort,
  metricsSection,
  natsServers,
  optionalText,
  section,
  shown,
  text,
  texts,
  wholeNumber,
} from "../config/setting-schemas.js";
import {
  ConfigError,
  type Flags,
  loadSettings,
  type SettingPaths,
  type SettingsPlace,
} from "../config/settings.js";

export { ConfigError };

/**
 * `xbus connector`'s settings (README, "Running a connector"), checked whole
 * before anything starts.
 */
export interface ConnectorConfig {
  agency: string;
  /** The connector's SPIFFE ID, from its certificate. */
  spiffeId: string;
  /** Its trust domain (the setting, or the certificate's): the adapter's certificate must be in it too. */
  trustDomain: string;
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

/** The file's shape; the order is the order problems are looked for in (agency first: the rest is about it). */
const connectorSettings = z.strictObject({
  agency: text.refine(isAgencyName, {
    error: (i) =>
      `${shown(i.input, 64)} is not an agency name (lowercase letters, digits and dashes, starting with a letter)`,
  }),
  trust_domain: optionalText,
  nats: natsServers,
  tls: section({ ca: text, cert: text, key: text }),
  broker_keys: texts,
  adapter: section({
    address: hostPort,
    server_name: optionalText,
    ca: optionalText,
    cert: optionalText,
    key: optionalText,
  }).superRefine((a, ctx) => {
    if ((a.cert === undefined) !== (a.key === undefined))
      ctx.addIssue({
        code: "custom",
        path: [a.cert === undefined ? "cert" : "key"],
        message: "adapter.cert and adapter.key go together",
      });
  }),
  max_in_flight: wholeNumber(1, 100_000).optional(),
  metrics: metricsSection,
});

export type ConnectorSettings = z.infer<typeof connectorSettings>;

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
} as const satisfies Record<SettingPaths<typeof connectorSettings.shape>, string | undefined>;

type Setting = keyof typeof CONNECTOR_SETTINGS;

/** Reads, merges and checks the settings; throws ConfigError naming the first problem. */
export function loadConnectorConfig(
  configPath: string | undefined,
  flags: Flags = {},
  now = new Date(),
): ConnectorConfig {
  return loadSettings({
    spec: CONNECTOR_SETTINGS,
    configPath,
    flags,
    schema: connectorSettings,
    check: (s, place) => checkConnector(s, place, now),
  });
}

/** The checks that read the files the settings name, and what they give the connector. */
function checkConnector(s: ConnectorSettings, place: SettingsPlace<Setting>, now: Date): ConnectorConfig {
  const { agency, trust_domain: trustDomain } = s;
  const wanted = `spiffe://${trustDomain ?? "<trust-domain>"}/agency/${agency}/connector/<name>`;
  const expected = (id: { role: string; agency: string; trustDomain: string } | undefined) =>
    id?.role === "connector" && id.agency === agency && (!trustDomain || id.trustDomain === trustDomain)
      ? undefined
      : `a connector of agency ${agency} (${wanted})`;
  const { files, bundle, identity, pem, renewal } = ownIdentity(place, s.tls, expected, now);

  const brokerKeys = s.broker_keys.map((p) =>
    ed25519Setting(place, "broker_keys", place.path("broker_keys", p), "public"),
  );

  // The adapter admits only connectors of its own agency: by default the same identity as on NATS.
  const { address, server_name: serverName } = s.adapter;
  const optPath = (setting: Setting, value: string | undefined) =>
    value === undefined ? undefined : place.path(setting, value);
  const adapterCa = optPath("adapter.ca", s.adapter.ca);
  const adapterCert = optPath("adapter.cert", s.adapter.cert);
  const adapterKey = optPath("adapter.key", s.adapter.key);
  const adapterBundle =
    adapterCa === undefined ? undefined : certificatesSetting(place, "adapter.ca", adapterCa);
  const adapterOwn =
    adapterCert !== undefined && adapterKey !== undefined
      ? identitySetting(place, {
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

  return {
    agency,
    spiffeId: identity.id.uri,
    trustDomain: identity.id.trustDomain,
    name: identity.id.name,
    servers: s.nats,
    tlsFiles: { caFile: files.ca, certFile: files.cert, keyFile: files.key },
    tlsPem: pem,
    certPem: atStart.certPem,
    key: atStart.key,
    certNotAfter: atStart.certNotAfter,
    brokerKeys,
    adapter: { address, ...(serverName !== undefined ? { serverName } : {}), tls: atStart.adapterTls },
    ...(s.max_in_flight !== undefined ? { maxInFlight: s.max_in_flight } : {}),
    ...(s.metrics !== undefined ? { metrics: s.metrics } : {}),
    renewed(next, at = new Date()) {
      const { bundle: trusted, identity: own } = renewal(next, at);
      return identityOf(own, trusted);
    },
  };
}
