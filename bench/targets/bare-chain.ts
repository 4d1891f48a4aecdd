import { status } from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";
import { createCa, issueCertificate } from "../../certs/index.js";
import { NatsServer } from "../../stack/index.js";
import { LAYOUTS, type Layout } from "../protocol.js";
import {
  BARE_METHOD,
  BARE_SUBJECT,
  type BareResponderConfig,
  listenBare,
  REQUEST_TIMEOUT_MS,
  startBareResponder,
} from "./bare-responder.js";
import { forkProvider, type ProviderProcess, serveTarget } from "./child.js";

/**
 * The bare chain the bus is measured against: the same hops and nothing else.
 *
 *   load generator ──gRPC, mutual TLS──▶ front ──NATS request──▶ responder ──gRPC, mutual TLS──▶ backend
 *
 * The front runs in this process; responder and backend (bare-responder.ts)
 * run in a process of their own in the split layout, as the bus's connector
 * and adapter do, or here too in the one-process layout (argv[2]). NATS is a
 * nats-server child on plain TCP (the stack's runs mutual TLS: a cost the bus
 * carries and the bare chain does not).
 */
const layout = (process.argv[2] ?? "split") as Layout;
if (!LAYOUTS.includes(layout)) {
  process.stderr.write(`bench bare target: layout must be ${LAYOUTS.join(" or ")}, got ${layout}\n`);
  process.exit(2);
}

serveTarget(async () => {
  const ca = createCa({ trustDomain: "bench.local", commonName: "bare chain CA" });
  const server = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] };
  const pair = (commonName: string, usage: "client" | "server") => {
    const c = issueCertificate(ca, { commonName, usage, ...(usage === "server" ? server : {}) });
    return { ca: ca.certPem, cert: c.certPem, key: c.keyPem };
  };
  const frontTls = pair("bare front", "server");
  const clientTls = pair("bare load generator", "client");
  const nats = await NatsServer.start();
  const config: BareResponderConfig = {
    natsUrl: nats.url,
    backendTls: pair("bare backend", "server"),
    responderTls: pair("bare responder", "client"),
  };
  let provider: ProviderProcess | undefined;
  let responder: { close(): Promise<void> } | undefined;
  try {
    if (layout === "split") provider = await forkProvider("bare-provider.js", config);
    else responder = await startBareResponder(config);
  } catch (err) {
    await nats.dispose();
    throw err;
  }

  // The same client options as the broker's connection (stack/dev-stack.ts), so the hop costs both the same.
  const frontNc = await connect({ servers: nats.url, name: "bench-bare-front", noAsyncTraces: true });
  const front = await listenBare((call, cb) => {
    frontNc.request(BARE_SUBJECT, call.request, { timeout: REQUEST_TIMEOUT_MS }).then(
      (reply) => {
        if (reply.data.length === 0) cb({ code: status.INTERNAL, details: "backend failed" });
        else cb(null, Buffer.from(reply.data.buffer, reply.data.byteOffset, reply.data.byteLength));
      },
      (err: unknown) => cb({ code: status.UNAVAILABLE, details: String(err) }),
    );
  }, frontTls);

  return {
    target: { address: `localhost:${front.port}`, method: BARE_METHOD, tls: clientTls },
    ...(provider ? { provider } : {}),
    natsPids: () => [nats.pid],
    async close() {
      front.server.forceShutdown();
      await frontNc.close();
      await provider?.stop();
      await responder?.close();
      await nats.dispose();
    },
  };
});
