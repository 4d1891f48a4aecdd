import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  applyStream,
  CONSENT_BUCKET,
  consentBucketSpec,
  DEFAULT_MAX_STREAM_BYTES,
  LOG_HEAD_BUCKET,
  LOG_HEAD_BUCKET_OPTIONS,
  LOG_STREAM,
  logStreamSpec,
  RATE_BUCKET,
  RATE_BUCKET_OPTIONS,
  streamConfig,
} from "../broker/index.js";

/**
 * The admin's step (`xbus federation init`, and `startStack` before its broker
 * starts): creates XBUS_LOG and the consent bucket, or brings existing ones to
 * their settings where that is safe (more replicas, a higher max_bytes);
 * anything else that differs is refused, named. Runs on a connection with the
 * admin identity: brokers may not create or change streams.
 */
export interface FederationInitOptions {
  /** 1 on one machine, 3 (or 5) on a cluster. */
  replicas: number;
  /** XBUS_LOG's storage limit in bytes; unlimited when absent (alert before the disk fills). */
  logMaxBytes?: number;
}

export type InitStep = { stream: string; done: "created" | "updated" | "unchanged" };

/**
 * Waits until JetStream answers on `nc`: a cluster that has just started (or lost its meta leader)
 * elects one first, and until then every JetStream request times out. Throws, naming what to check,
 * after `timeoutMs`.
 */
export async function waitForJetStream(nc: NatsConnection, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo();
      return;
    } catch (err) {
      if (Date.now() > until)
        throw new Error(
          `JetStream did not answer within ${Math.round(timeoutMs / 1000)} s (${(err as Error).message}): ` +
            "is JetStream enabled, and are a majority of the cluster's nodes up and routed to each other?",
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function initFederation(nc: NatsConnection, o: FederationInitOptions): Promise<InitStep[]> {
  await waitForJetStream(nc);
  const jsm = await jetstreamManager(nc);
  // A new stream gets the default bound unless --log-max-bytes says otherwise; an existing one keeps its own.
  const logExists = (await streamConfig(jsm, LOG_STREAM)) !== undefined;
  const log = await applyStream(
    jsm,
    logStreamSpec(o.replicas, o.logMaxBytes ?? (logExists ? undefined : DEFAULT_MAX_STREAM_BYTES)),
  );
  const spec = consentBucketSpec(CONSENT_BUCKET, o.replicas);
  let consents: InitStep["done"];
  if ((await streamConfig(jsm, spec.name)) === undefined) {
    // nats.js makes a KV bucket's stream (subjects, rollups, direct get) as its readers expect.
    await new Kvm(nc).create(CONSENT_BUCKET, {
      history: spec.max_msgs_per_subject ?? 5,
      replicas: o.replicas,
    });
    consents = "created";
  } else {
    consents = await applyStream(jsm, spec);
  }
  // The federation-wide rate leases and the log's last signed head: made when missing (their readers
  // check nothing more of them than nats.js's KV does).
  const more: InitStep[] = [];
  for (const [bucket, options] of [
    [RATE_BUCKET, RATE_BUCKET_OPTIONS],
    [LOG_HEAD_BUCKET, LOG_HEAD_BUCKET_OPTIONS],
  ] as const) {
    const exists = (await streamConfig(jsm, `KV_${bucket}`)) !== undefined;
    if (!exists) await new Kvm(nc).create(bucket, { ...options, replicas: o.replicas });
    more.push({ stream: `KV_${bucket}`, done: exists ? "unchanged" : "created" });
  }
  return [{ stream: LOG_STREAM, done: log }, { stream: spec.name, done: consents }, ...more];
}
