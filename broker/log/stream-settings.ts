import type { JetStreamManager, StreamConfig, StreamInfo } from "@nats-io/jetstream";
import { type KV, Kvm, type KvOptions } from "@nats-io/kv";

/**
 * The JetStream streams the federation depends on are made to a spec and
 * checked against it: a stream that exists with other settings is reported,
 * naming each difference, and never silently used (a log at R1 where R3 was
 * meant loses exchanges with one disk; one without deny_delete can be
 * emptied). The admin (`xbus federation init`) creates and updates them; a
 * broker only checks.
 */
export type StreamSpec = Partial<StreamConfig> & { name: string };

const shown = (v: unknown) => (v === undefined ? "unset" : JSON.stringify(v));

/** Each setting of `wanted` that `actual` does not have, as "num_replicas is 1, not 3". */
export function streamDifferences(actual: Partial<StreamConfig>, wanted: StreamSpec): string[] {
  const out: string[] = [];
  for (const [key, want] of Object.entries(wanted)) {
    if (key === "name") continue;
    const have = (actual as Record<string, unknown>)[key];
    // JetStream leaves false booleans out of its answers.
    const same =
      JSON.stringify(have ?? (typeof want === "boolean" ? false : undefined)) === JSON.stringify(want);
    if (!same) out.push(`${key} is ${shown(have)}, not ${shown(want)}`);
  }
  return out;
}

/** Settings the admin may change in place: raising a stream's limit and its replica count. */
function updatable(actual: Partial<StreamConfig>, wanted: StreamSpec, bytes: number): string[] {
  const refused: string[] = [];
  for (const key of Object.keys(wanted) as (keyof StreamConfig)[]) {
    if (key === "name") continue;
    const have = actual[key];
    const want = wanted[key];
    if (JSON.stringify(have) === JSON.stringify(want)) continue;
    if (key === "num_replicas") continue;
    // Lowering max_bytes makes JetStream drop the oldest messages at once: never for the log.
    if (key === "max_bytes" && typeof want === "number") {
      if (have !== -1 && (have as number) > want)
        refused.push(`max_bytes ${shown(have)} → ${want} is lowering it; only raising it is allowed`);
      else if (want !== -1 && want <= bytes)
        refused.push(
          `max_bytes ${want} is not above the ${bytes} bytes the stream holds; it would be truncated`,
        );
      continue;
    }
    if (key === "max_bytes") continue;
    refused.push(`${key} cannot be changed in place (${shown(have)} → ${shown(want)})`);
  }
  return refused;
}

const isNotFound = (err: unknown) => err instanceof Error && /stream not found/i.test(err.message);

/** The stream's settings as they are, or undefined when it does not exist. */
export async function streamConfig(
  jsm: JetStreamManager,
  name: string,
): Promise<Partial<StreamConfig> | undefined> {
  return (await streamInfo(jsm, name))?.config;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Throws, naming every difference, when the stream exists with other settings; "missing" when it does not. */
export async function checkStream(jsm: JetStreamManager, wanted: StreamSpec): Promise<"ok" | "missing"> {
  const actual = await streamConfig(jsm, wanted.name);
  if (!actual) return "missing";
  const diff = streamDifferences(actual, wanted);
  if (diff.length > 0) {
    throw new Error(
      `stream ${wanted.name} exists with other settings: ${diff.join("; ")}. ` +
        "Refusing to use it; an admin changes it with `xbus federation init`",
    );
  }
  return "ok";
}

/**
 * The admin's step: creates the stream, or brings an existing one to the
 * spec where that is safe (more replicas, a higher max_bytes); anything else
 * that differs is refused, naming it. Returns what it did.
 */
export async function applyStream(
  jsm: JetStreamManager,
  wanted: StreamSpec,
): Promise<"created" | "updated" | "unchanged"> {
  const info = await streamInfo(jsm, wanted.name);
  if (!info) {
    await jsm.streams.add(wanted);
    return "created";
  }
  const actual = info.config;
  if (streamDifferences(actual, wanted).length === 0) return "unchanged";
  const refused = updatable(actual, wanted, info.state.bytes);
  if (refused.length > 0)
    throw new Error(`stream ${wanted.name} cannot be brought to its settings: ${refused.join("; ")}`);
  await jsm.streams.update(wanted.name, { ...actual, ...wanted });
  return "updated";
}

/**
 * Opens a KV bucket when it exists (an admin made it with `xbus federation init`, at the federation's
 * replicas; opening reads its stream info only) and creates it otherwise, where this identity may (dev and
 * tests). A broker's identity may not create streams, so in a federation the admin's init must run first.
 */
export async function openOrCreateBucket(
  js: ConstructorParameters<typeof Kvm>[0],
  bucket: string,
  options: Partial<KvOptions>,
): Promise<KV> {
  try {
    return await new Kvm(js).open(bucket);
  } catch {
    return new Kvm(js).create(bucket, options);
  }
}
