import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import type { ExchangeOutcome } from "../../broker/index.js";
import { createLogger } from "../../core/index.js";
import { createServiceClient, type ServiceClient } from "../../core/rpc/index.js";
import { createTelemetry } from "../../core/telemetry/index.js";
import { Exchange } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { DEV_SAMPLE, type Stack, type StackOptions, startStack } from "../../stack/index.js";

export interface TestStack extends Stack {
  readonly outcomes: ExchangeOutcome[];
  /**
   * A consumer client; default the dev consumer's certificate, `null` for none. grpc-js shares one
   * connection between clients with equal credentials; `ownConnection` gives this one its own.
   */
  client(
    identity?: { cert: string; key: string } | null,
    ca?: string,
    options?: { ownConnection?: boolean },
  ): ServiceClient<typeof Exchange.method>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The real stack (nats-server child on a free port, real TLS, real gRPC) in a
 * temp folder, quiet unless XBUS_TEST_LOGS=1. Dispose it in afterAll; it
 * removes its folder.
 *
 * Tracing is on (every trace sampled) and logging at debug, and each span and
 * log line is scanned for 11-digit numbers; `close` fails the suite if one of
 * them is a citizen ID of the stack's population, so every end-to-end suite
 * doubles as a check that no citizen ID reaches telemetry or logs.
 */
export async function startTestStack(
  options: Partial<StackOptions> & {
    /** Sees every log line of the stack, e.g. to wait for a warning. */
    onLog?: (line: string) => void;
  } = {},
): Promise<TestStack> {
  const { onLog, ...stackOptions } = options;
  const dir = mkdtempSync(join(tmpdir(), "xbus-test-"));
  const outcomes: ExchangeOutcome[] = [];
  const digits = new Set<string>();
  const scan = (text: string) => {
    for (const m of text.matchAll(/\d{11}/g)) digits.add(m[0]);
  };
  const logger = createLogger({}, "debug", (l) => {
    scan(l);
    onLog?.(l);
    if (process.env.XBUS_TEST_LOGS) process.stderr.write(l);
  });
  const telemetry = createTelemetry({
    serviceName: "xbus-test",
    env: {},
    sampleRatio: 1,
    spanExporter: {
      export(spans, done) {
        for (const sp of spans)
          scan(JSON.stringify([sp.name, sp.attributes, sp.status, sp.events, sp.resource.attributes]));
        done({ code: 0 });
      },
      shutdown: async () => {},
    },
  });
  const stack = await startStack({
    dir,
    logger,
    telemetry,
    observe: (o) => outcomes.push(structuredClone(o)),
    ...stackOptions,
  }).catch(async (err: unknown) => {
    await telemetry.shutdown();
    throw err;
  });
  const clients: { close(): void }[] = [];
  const close = async () => {
    for (const c of clients) c.close();
    await stack.close();
    await telemetry.shutdown();
    rmSync(dir, { recursive: true, force: true });
    const leaked = [...digits].filter((d) => stack.population.byId.has(d));
    if (leaked.length > 0)
      throw new Error(`citizen IDs reached span attributes or log lines: ${leaked.length} of them`);
  };
  return {
    ...stack,
    outcomes,
    client(identity = stack.consumer, ca = stack.ca.certPem, options = {}) {
      const creds = identity
        ? credentials.createSsl(Buffer.from(ca), Buffer.from(identity.key), Buffer.from(identity.cert))
        : credentials.createSsl(Buffer.from(ca));
      const c = createServiceClient(
        Exchange,
        stack.brokerAddress,
        creds,
        options.ownConnection ? { "grpc.use_local_subchannel_pool": 1 } : {},
      );
      clients.push(c);
      return c as unknown as ServiceClient<typeof Exchange.method>;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Awaits a call that must fail and returns its error. */
export async function failure(
  p: Promise<unknown>,
): Promise<ServiceError & { reason: string | undefined; field: string | undefined }> {
  try {
    await p;
  } catch (err) {
    const se = err as ServiceError;
    const get = (k: string) => {
      const v = se.metadata?.get(k)[0];
      return typeof v === "string" ? v : undefined;
    };
    return Object.assign(se, { reason: get("xbus-reason"), field: get("xbus-field") });
  }
  throw new Error("expected the call to fail, but it succeeded");
}

export const deadline = (ms = 5000) => ({ deadline: Date.now() + ms });

/**
 * The dev sample exchange (DEV_SAMPLE: the first citizen's record, for a scholarship) as the dev consumer:
 * its answer, receipt included; for tests that need an entry in the log and nothing more.
 */
export function fetchSample(stack: TestStack) {
  return stack
    .client()
    .fetch({ ...DEV_SAMPLE, subjectId: stack.population.citizens[0]?.id ?? "" }, deadline());
}
