import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

/*
 * An adapter written as an integrator with another toolchain would write it:
 * nothing from this repository but the .proto files. It uses a different
 * protobuf implementation (protobufjs, through @grpc/proto-loader) and keeps
 * the contract by hand: check the caller, the broker's route, the deadline and the request, answer
 * NOT_FOUND or a record packed in an Any, fill only the released fields.
 * docs/adapters.md walks through it; the conformance kit passes it in the tests.
 */
const PROTO_DIR = join(import.meta.dirname, "../../../proto");
const RECORD = "agencies.rsta.v1.DrivingLicence";

export interface WithoutSdkOptions {
  /** PEM file paths: federation CA, this adapter's certificate and key. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The agency's database, reduced to a lookup by citizen ID (proto field names). */
  lookup: (citizenId: string) => Record<string, unknown> | undefined;
  /** The one connector identity allowed to call, e.g. spiffe://gov.bt/agency/rsta/connector/prod. */
  connectorPrefix: string;
  /** PEM files of the broker's route-signing public keys (Ed25519), as the connector lists them. */
  brokerKeyFiles: string[];
}

/*
 * The broker's route, checked by hand (README, "The adapter's side of a route"): metadata
 * xbus-route-signature (base64: a 64-byte Ed25519 signature, or signature ‖ index u16 ‖ size u16 ‖ path of
 * 32-byte hashes for a batch) and xbus-route-deadline (ms since the epoch), over
 * "xbus-route/v1\n" exchange_id "\n" "xbus.svc." service "\n" deadline "\n" hex(SHA-256(request bytes)).
 */
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

/** The bytes the signature covers: the message itself, or the root of the batch its proof leads to (RFC 9162). */
function signedBy(message: Buffer, sig: Buffer): { signature: Buffer; signed: Buffer } | undefined {
  if (sig.length === 64) return { signature: sig, signed: message };
  if (sig.length < 68 || (sig.length - 68) % 32 !== 0 || sig.length > 68 + 16 * 32) return undefined;
  let fn = sig.readUInt16BE(64);
  const size = sig.readUInt16BE(66);
  if (size < 2 || fn >= size) return undefined;
  let sn = size - 1;
  let r = sha256(Buffer.from([0]), message);
  for (let at = 68; at < sig.length; at += 32) {
    const p = sig.subarray(at, at + 32);
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = sha256(Buffer.from([1]), p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else r = sha256(Buffer.from([1]), r, p);
    fn >>= 1;
    sn >>= 1;
  }
  if (sn !== 0) return undefined;
  return {
    signature: sig.subarray(0, 64),
    signed: Buffer.from(`xbus-batch/v1\n${size}\n${r.toString("hex")}\n`),
  };
}

function routeRefusal(keys: KeyObject[], call: Call, raw: Buffer | undefined): string | undefined {
  const signature = call.metadata.get("xbus-route-signature")[0];
  const deadline = call.metadata.get("xbus-route-deadline")[0];
  const req = call.request as { exchange_id: string; service: string };
  if (typeof signature !== "string" || typeof deadline !== "string" || !raw) return "no broker route";
  if (!/^[0-9]{1,15}$/.test(deadline)) return "xbus-route-deadline: not milliseconds";
  const message = Buffer.from(
    `xbus-route/v1\n${req.exchange_id}\nxbus.svc.${req.service}\n${deadline}\n${sha256(raw).toString("hex")}`,
  );
  const s = signature.length <= 800 ? signedBy(message, Buffer.from(signature, "base64")) : undefined;
  if (!s || !keys.some((k) => verify(null, s.signed, k, s.signature)))
    return "not a route a trusted broker signed";
  if (Number(deadline) <= Date.now()) return "the route's deadline has passed";
  return undefined;
}

type Callback = (err: Partial<grpc.StatusObject> | null, value?: unknown) => void;
type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown>;

export async function startWithoutSdk(o: WithoutSdkOptions): Promise<{ port: number; close(): void }> {
  const def = protoLoader.loadSync(["xbus/v1/adapter.proto"], {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    // Absent strings and lists arrive as "" and [], as in every other protobuf runtime.
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    xbus: { v1: { Adapter: grpc.ServiceClientConstructor } };
  };
  const brokerKeys = o.brokerKeyFiles.map((f) => createPublicKey(readFileSync(f)));
  // The route is signed over the request's bytes as received: keep them beside the decoded request.
  const rawOf = new WeakMap<object, Buffer>();
  const service = pkg.xbus.v1.Adapter.service;
  const fetchMethod = service.Fetch as grpc.MethodDefinition<object, unknown>;
  const withRaw: grpc.ServiceDefinition = {
    ...service,
    Fetch: {
      ...fetchMethod,
      requestDeserialize: (bytes: Buffer) => {
        const msg = fetchMethod.requestDeserialize(bytes);
        rawOf.set(msg, bytes);
        return msg;
      },
    },
  };
  // Importing proto-loader registered google/protobuf/descriptor.proto with protobufjs.
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith("google/") ? target : join(PROTO_DIR, target));
  root.loadSync("agencies/rsta/v1/transport.proto", { keepCase: true });
  const Licence = root.lookupType(RECORD);
  const fields = new Set(Object.keys(Licence.fields));

  const fail = (cb: Callback, code: grpc.status, reason: string, details: string) => {
    const metadata = new grpc.Metadata();
    metadata.set("xbus-reason", reason);
    cb({ code, details, metadata });
  };
  const callerOk = (call: Call) => {
    const san = call.getAuthContext().sslPeerCertificate?.subjectaltname ?? "";
    return san.split(", ").some((e) => e.startsWith(`URI:${o.connectorPrefix}`));
  };

  const server = new grpc.Server();
  server.addService(withRaw, {
    Describe(call: Call, cb: Callback) {
      if (!callerOk(call)) return fail(cb, grpc.status.PERMISSION_DENIED, "WRONG_ROLE", "connectors only");
      cb(null, { agency: "rsta", services: [{ service: "rsta.driving-licence", record_type: RECORD }] });
    },
    Fetch(call: Call, cb: Callback) {
      if (!callerOk(call)) return fail(cb, grpc.status.PERMISSION_DENIED, "WRONG_ROLE", "connectors only");
      const refused = routeRefusal(brokerKeys, call, rawOf.get(call.request));
      if (refused) return fail(cb, grpc.status.PERMISSION_DENIED, "BAD_ROUTE_SIGNATURE", refused);
      if (!Number.isFinite(Number(call.getDeadline())))
        return fail(cb, grpc.status.INVALID_ARGUMENT, "INVALID_REQUEST", "deadline: required");
      const req = call.request as { service: string; subject_id: string; fields: string[] };
      if (req.service !== "rsta.driving-licence")
        return fail(cb, grpc.status.INVALID_ARGUMENT, "UNKNOWN_SERVICE", "service: not served here");
      if (req.subject_id.length === 0 || req.subject_id.length > 64)
        return fail(cb, grpc.status.INVALID_ARGUMENT, "INVALID_SUBJECT_ID", "subject_id: 1 to 64 characters");
      if (req.fields.length === 0 || !req.fields.every((f) => fields.has(f)))
        return fail(cb, grpc.status.INVALID_ARGUMENT, "UNKNOWN_FIELD", "fields: unknown field");
      const row = o.lookup(req.subject_id);
      if (!row) return fail(cb, grpc.status.NOT_FOUND, "SUBJECT_NOT_FOUND", "no record");
      // Only what policy released leaves the agency.
      const released = Object.fromEntries(Object.entries(row).filter(([k]) => req.fields.includes(k)));
      const value = Licence.encode(Licence.fromObject(released)).finish();
      cb(null, { record: { type_url: `type.googleapis.com/${RECORD}`, value: Buffer.from(value) } });
    },
  });
  const creds = grpc.ServerCredentials.createSsl(
    readFileSync(o.caFile),
    [{ cert_chain: readFileSync(o.certFile), private_key: readFileSync(o.keyFile) }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("localhost:0", creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, close: () => server.forceShutdown() };
}
