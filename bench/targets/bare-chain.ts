import {
  Client,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type ServiceError,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";
import { createCa, issueCertificate } from "../../certs/index.js";
import { NatsServer } from "../../core/nats-server.js";
import { serveTarget } from "./child.js";

/**
 * The bare chain the bus is measured against: the same hops and nothing else.
 *
 *   load generator ──gRPC, mutual TLS──▶ front ──NATS request──▶ responder ──gRPC, mutual TLS──▶ backend
 *
 * The backend answers with a fixed record of the size the request names (its
 * first four bytes, big-endian); nobody parses, checks, signs, masks or logs
 * anything. Front, responder and backend share this one process, as the
 * broker, connector and adapter share the bus's (cli/dev/stack.ts), and NATS
 * is a nats-server child on plain TCP like the stack's.
 */
export const BARE_METHOD = "/xbus.bench.Bare/Fetch";
const SUBJECT = "bench.bare.fetch";
const REQUEST_TIMEOUT_MS = 30_000;

const bytes = (b: Buffer) => b;
const bareService: ServiceDefinition = {
  fetch: {
    path: BARE_METHOD,
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes,
    requestDeserialize: bytes,
    responseSerialize: bytes,
    responseDeserialize: bytes,
  },
};

type Handler = (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => void;

async function listen(handler: Handler, tls: { ca: string; cert: string; key: string }) {
  const server = new Server();
  server.addService(bareService, { fetch: handler });
  const creds = ServerCredentials.createSsl(
    Buffer.from(tls.ca),
    [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("localhost:0", creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

serveTarget(async () => {
  const ca = createCa({ trustDomain: "bench.local", commonName: "bare chain CA" });
  const server = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] };
  const pair = (commonName: string, usage: "client" | "server") => {
    const c = issueCertificate(ca, { commonName, usage, ...(usage === "server" ? server : {}) });
    return { ca: ca.certPem, cert: c.certPem, key: c.keyPem };
  };
  const frontTls = pair("bare front", "server");
  const backendTls = pair("bare backend", "server");
  const responderTls = pair("bare responder", "client");
  const clientTls = pair("bare load generator", "client");

  const records = new Map<number, Buffer>();
  const backend = await listen((call, cb) => {
    const size = call.request.length >= 4 ? call.request.readUInt32BE(0) : 0;
    let record = records.get(size);
    if (!record) {
      record = Buffer.alloc(size, 0x2a);
      records.set(size, record);
    }
    cb(null, record);
  }, backendTls);

  const nats = await NatsServer.start();
  // The same client options as the broker's connection (cli/dev/stack.ts), so the hop costs both the same.
  const frontNc = await connect({ servers: nats.url, name: "bench-bare-front", noAsyncTraces: true });
  const responderNc = await connect({ servers: nats.url, name: "bench-bare-responder" });
  const backendClient = new Client(
    `localhost:${backend.port}`,
    credentials.createSsl(
      Buffer.from(responderTls.ca),
      Buffer.from(responderTls.key),
      Buffer.from(responderTls.cert),
    ),
  );
  const sub = responderNc.subscribe(SUBJECT, {
    queue: "bench-bare",
    callback: (err, msg) => {
      if (err) return;
      backendClient.makeUnaryRequest(
        BARE_METHOD,
        bytes,
        bytes,
        Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength),
        new Metadata(),
        { deadline: Date.now() + REQUEST_TIMEOUT_MS },
        (e: ServiceError | null, reply?: Buffer) => {
          msg.respond(e || !reply ? new Uint8Array(0) : reply);
        },
      );
    },
  });
  await responderNc.flush();

  const front = await listen((call, cb) => {
    frontNc.request(SUBJECT, call.request, { timeout: REQUEST_TIMEOUT_MS }).then(
      (reply) => {
        if (reply.data.length === 0) cb({ code: status.INTERNAL, details: "backend failed" });
        else cb(null, Buffer.from(reply.data.buffer, reply.data.byteOffset, reply.data.byteLength));
      },
      (err: unknown) => cb({ code: status.UNAVAILABLE, details: String(err) }),
    );
  }, frontTls);

  return {
    target: { address: `localhost:${front.port}`, method: BARE_METHOD, tls: clientTls },
    async close() {
      front.server.forceShutdown();
      sub.unsubscribe();
      backendClient.close();
      await frontNc.close();
      await responderNc.close();
      backend.server.forceShutdown();
      await nats.dispose();
    },
  };
});
