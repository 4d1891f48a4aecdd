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
} from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";

/**
 * The provider's side of the bare chain: a NATS responder that passes each
 * request over gRPC with mutual TLS to a backend, which answers with a fixed
 * record of the size the request names (its first four bytes, big-endian).
 * Nobody parses, checks, signs, masks or logs anything.
 */
export const BARE_METHOD = "/xbus.bench.Bare/Fetch";
export const BARE_SUBJECT = "bench.bare.fetch";
export const REQUEST_TIMEOUT_MS = 30_000;

export interface TlsPair {
  ca: string;
  cert: string;
  key: string;
}

export interface BareResponderConfig {
  natsUrl: string;
  /** The backend's server certificate. */
  backendTls: TlsPair;
  /** The responder's client certificate towards the backend. */
  responderTls: TlsPair;
}

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

/** A gRPC server with mutual TLS on a free port, serving the bare method. */
export async function listenBare(handler: Handler, tls: TlsPair) {
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

export async function startBareResponder(o: BareResponderConfig): Promise<{ close(): Promise<void> }> {
  const records = new Map<number, Buffer>();
  const backend = await listenBare((call, cb) => {
    const size = call.request.length >= 4 ? call.request.readUInt32BE(0) : 0;
    let record = records.get(size);
    if (!record) {
      record = Buffer.alloc(size, 0x2a);
      records.set(size, record);
    }
    cb(null, record);
  }, o.backendTls);

  const nc = await connect({ servers: o.natsUrl, name: "bench-bare-responder" });
  const backendClient = new Client(
    `localhost:${backend.port}`,
    credentials.createSsl(
      Buffer.from(o.responderTls.ca),
      Buffer.from(o.responderTls.key),
      Buffer.from(o.responderTls.cert),
    ),
  );
  const sub = nc.subscribe(BARE_SUBJECT, {
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
  // The subscription is on the server: from here the front can reach it.
  await nc.flush();
  return {
    async close() {
      sub.unsubscribe();
      backendClient.close();
      await nc.close();
      backend.server.forceShutdown();
    },
  };
}
