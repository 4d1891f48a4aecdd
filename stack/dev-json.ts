import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { CitizenPageJson } from "./citizen-page.js";
import type { ClusterStack } from "./dev-cluster.js";
import type { Stack } from "./dev-stack.js";
import { DEV_LICENSING, DEV_PORTAL } from "./identities.js";

/** The parts of `.xbus/dev/dev.json` that other commands read for their defaults. */
export interface DevJson {
  broker?: string;
  nats?: string;
  ca?: string;
  review?: { url: string; token: string };
  log?: { index: string; key: string; log_id: string };
  /** The log's C2SP verifier key (`<log id>+<key ID>+<key>`): checks `GET /checkpoint` and tlog-proofs. */
  log_vkey?: string;
  /** The witnesses `xbus dev` runs (name in the policy, URL, vkey) and its C2SP tlog-policy file. */
  witnesses?: { name: string; url: string; vkey: string }[];
  witness_policy?: string;
  /** When NATS runs with mutual TLS: the certificate tools connect with (the broker's, in dev). */
  nats_client?: { cert: string; key: string };
  /** Consumer systems with certificates (the journeys pick theirs by SPIFFE ID). */
  consumers?: { spiffe_id: string; cert: string; key: string }[];
  /** Each adapter and the client certificate it accepts (its agency's connector). */
  adapters?: { agency: string; address?: string; client?: { cert: string; key: string } }[];
  adapter_client?: { cert: string; key: string };
  /** The dev broker's route-signing key (PKCS#8 PEM): the conformance kit signs routes with it. */
  broker_signing_key?: string;
  /** "Who read my data" and the dev identity provider's synthetic citizens (issue 21). */
  citizen?: CitizenPageJson;
  /** Every broker's address (`broker` is the first). */
  brokers?: string[];
  /** `xbus dev --cluster`: the core nats-servers' client URLs. */
  nats_cluster?: string[];
  /** The log services: the signer's review API (`review.url` is the same) and the standby's. */
  log_service?: { url: string; standby?: string };
  /** The admin identity: makes and changes streams (xbus federation init). */
  admin?: { cert: string; key: string };
}

/** Reads dev.json from `dir` (default `.xbus/dev`), or returns {} when `xbus dev` has not run here. */
export function readDevJson(dir = join(".xbus", "dev")): DevJson {
  const path = resolve(dir, "dev.json");
  if (!existsSync(path)) return {};
  return JSON.parse(readFileSync(path, "utf8")) as DevJson;
}

/** The exchange `xbus dev` performs at start and dev.json names: the sample citizen's record, for a scholarship. */
export const DEV_SAMPLE = { service: "dcrc.citizen-record", purpose: "scholarship-eligibility" } as const;

/** What `.xbus/dev/dev.json` says, for other tools (grpcurl, the conformance kit, the journeys). */
export function devJsonOf(
  stack: Stack & Partial<Pick<ClusterStack, "brokerAddresses" | "core" | "standby">>,
) {
  const subject = stack.population.citizens[0]?.id ?? "";
  return {
    broker: stack.brokerAddress,
    brokers: [...(stack.brokerAddresses ?? [stack.brokerAddress])],
    ...(stack.core && { nats_cluster: [...stack.core.urls] }),
    ...(stack.review && {
      log_service: { url: stack.review.url, ...(stack.standby && { standby: stack.standby.reviewUrl }) },
    }),
    ...(stack.adminCert && { admin: { cert: stack.adminCert.certPath, key: stack.adminCert.keyPath } }),
    nats: stack.nats.url,
    ...(stack.natsAuth && {
      nats_client: { cert: stack.brokerCert.certPath, key: stack.brokerCert.keyPath },
    }),
    ca: stack.caPath,
    ca_dir: stack.caDir.paths.dir,
    crl: stack.crlPath,
    consumer: {
      spiffe_id: stack.consumer.spiffeId,
      cert: stack.consumer.certPath,
      key: stack.consumer.keyPath,
    },
    sample_subject_id: subject,
    service: DEV_SAMPLE.service,
    purpose: DEV_SAMPLE.purpose,
    consumers: stack.consumers.map((c) => ({ spiffe_id: c.spiffeId, cert: c.certPath, key: c.keyPath })),
    adapters: stack.adapters.map((a) => ({
      agency: a.agency,
      address: a.address,
      client: { cert: a.client.certPath, key: a.client.keyPath },
    })),
    adapter_client: { cert: stack.adapterClient.certPath, key: stack.adapterClient.keyPath },
    broker_signing_key: stack.brokerSigningKeyPath,
    ...(stack.review && { review: stack.review, log: stack.logFiles, log_vkey: stack.logVkey }),
    ...(stack.review &&
      stack.witnessPolicyPath && { witnesses: stack.witnesses, witness_policy: stack.witnessPolicyPath }),
    ...(stack.citizen && { citizen: stack.citizen }),
  };
}

/**
 * The command-line arguments of a cross-agency journey
 * (adapters/examples/journeys/main.ts) against `stack`: endpoints and
 * certificates as flags, so the example never reads this stack's state files.
 */
export function journeyArgs(stack: Stack, journey: "scholarship" | "licence-renewal"): string[] {
  const system =
    journey === "scholarship" ? stack.consumer : stack.consumers.find((c) => c.spiffeId === DEV_LICENSING);
  const portal = stack.consumers.find((c) => c.spiffeId === DEV_PORTAL);
  if (!system || !portal) throw new Error(`the stack issued no certificate for the ${journey} journey`);
  return [
    journey,
    "--broker",
    stack.brokerAddress,
    "--ca",
    stack.caPath,
    "--cert",
    system.certPath,
    "--key",
    system.keyPath,
    ...(journey === "licence-renewal"
      ? ["--portal-cert", portal.certPath, "--portal-key", portal.keyPath]
      : []),
  ];
}
