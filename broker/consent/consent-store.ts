import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../core/index.js";
import { UUID_PATTERN } from "../../core/index.js";
import type { ConsentRecord as PolicyConsent } from "../../policies/index.js";
import { type ConsentRecord, ConsentRecordSchema } from "../../proto/gen/xbus/v1/consent_pb.js";
import { checkStream, type StreamSpec } from "../log/stream-settings.js";

/**
 * Consents live in a JetStream key-value bucket (the truth, shared by every
 * broker); each broker keeps a watched copy in memory, so checking a consent
 * on the request path costs a map lookup and no round trip. A write returns
 * only once this broker's copy holds it: a revocation is in force for the
 * very next request this broker decides (other brokers follow within their
 * watch's latency).
 */
export interface ConsentStore {
  /** The consent as the policy engine needs it; undefined when unknown. */
  get(id: string): PolicyConsent | undefined;
  record(id: string): ConsentRecord | undefined;
  listBySubject(subjectId: string): ConsentRecord[];
  /** Writes a consent and waits until the local copy has it. */
  put(consent: ConsentRecord): Promise<void>;
  close(): Promise<void>;
}

export interface ConsentStoreOptions {
  nc: NatsConnection;
  /** Bucket name. Default `xbus_consents`. */
  bucket?: string;
  /** The bucket's replicas: 1 on one machine, 3 in a cluster. A bucket with another number is refused. */
  replicas?: number;
  logger: Logger;
}

export const CONSENT_BUCKET = "xbus_consents";
/** Versions of a consent the bucket keeps (a revocation is a new version). */
const HISTORY = 5;

/** The settings of the consent bucket's stream that matter (the rest are nats.js's KV defaults). */
export function consentBucketSpec(bucket = CONSENT_BUCKET, replicas = 1): StreamSpec {
  return { name: `KV_${bucket}`, max_msgs_per_subject: HISTORY, num_replicas: replicas };
}

/**
 * Opens the bucket after checking its settings (a difference is refused, named); creates it when it is
 * missing and this connection may (dev and tests). In a federation `xbus federation init` creates it.
 */
export async function openConsentBucket(
  nc: NatsConnection,
  bucket = CONSENT_BUCKET,
  replicas = 1,
): Promise<KV> {
  const spec = consentBucketSpec(bucket, replicas);
  if ((await checkStream(await jetstreamManager(nc), spec)) === "ok") return new Kvm(nc).open(bucket);
  try {
    return await new Kvm(nc).create(bucket, { history: HISTORY, replicas });
  } catch (err) {
    throw new Error(
      `the consent bucket ${bucket} does not exist and this NATS identity could not create it ` +
        `(${err instanceof Error ? err.message : String(err)}): run \`xbus federation init\` with the admin identity`,
      { cause: err },
    );
  }
}

const KEY_PREFIX = "consent.";

/** The bucket key of a consent id; only ids the broker could have made are accepted. */
export function consentKey(id: string): string {
  if (!UUID_PATTERN.test(id)) throw new Error("not a consent id");
  return KEY_PREFIX + id;
}

export async function openConsentStore(o: ConsentStoreOptions): Promise<ConsentStore> {
  const kv = await openConsentBucket(o.nc, o.bucket, o.replicas);
  const byId = new Map<string, { pb: ConsentRecord; policy: PolicyConsent }>();
  const bySubject = new Map<string, Set<string>>();
  let seen = 0;
  let waiters: { revision: number; resolve: () => void }[] = [];

  const apply = (key: string, op: string, value: Uint8Array) => {
    const id = key.slice(KEY_PREFIX.length);
    const old = byId.get(id);
    if (old) bySubject.get(old.pb.subjectId)?.delete(id);
    if (op !== "PUT") {
      byId.delete(id);
      return;
    }
    let pb: ConsentRecord;
    try {
      pb = fromBinary(ConsentRecordSchema, value);
    } catch (err) {
      o.logger.error({ key, err }, "a consent in the bucket does not decode; ignored");
      byId.delete(id);
      return;
    }
    if (pb.id !== id) {
      o.logger.error({ key }, "a consent's id does not match its key; ignored");
      byId.delete(id);
      return;
    }
    byId.set(id, {
      pb,
      policy: {
        id,
        subjectId: pb.subjectId,
        consumer: pb.consumer,
        services: pb.services,
        purpose: pb.purpose,
        fields: pb.fields,
        notAfter: Number(pb.notAfter),
        revokedAt: Number(pb.revokedAt),
      },
    });
    const set = bySubject.get(pb.subjectId) ?? new Set();
    set.add(id);
    bySubject.set(pb.subjectId, set);
  };

  const waitFor = (revision: number) =>
    revision <= seen
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push({ revision, resolve }));

  const status = await kv.status();
  const initial = status.streamInfo.state.last_seq;
  const watcher = await kv.watch({ key: `${KEY_PREFIX}>` });
  const loop = (async () => {
    for await (const e of watcher) {
      apply(e.key, e.operation, e.value);
      seen = Math.max(seen, e.revision);
      if (waiters.length > 0) {
        const ready = waiters.filter((w) => w.revision <= seen);
        waiters = waiters.filter((w) => w.revision > seen);
        for (const w of ready) w.resolve();
      }
    }
  })().catch((err: unknown) => o.logger.error({ err }, "consent watch ended"));
  // Start deciding only once the copy holds everything the bucket had.
  await waitFor(initial);

  return {
    get: (id) => byId.get(id)?.policy,
    record: (id) => byId.get(id)?.pb,
    listBySubject: (subjectId) =>
      [...(bySubject.get(subjectId) ?? [])].flatMap((id) => {
        const c = byId.get(id);
        return c ? [c.pb] : [];
      }),
    async put(consent) {
      const revision = await kv.put(consentKey(consent.id), toBinary(ConsentRecordSchema, consent));
      await waitFor(revision);
    },
    async close() {
      watcher.stop();
      await loop;
      for (const w of waiters) w.resolve();
      waiters = [];
    },
  };
}
