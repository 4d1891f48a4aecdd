import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

/*
 * An adapter written as an integrator with another toolchain would write it:
 * nothing from this repository but the .proto files. It uses a different
 * protobuf implementation (protobufjs, through @grpc/proto-loader) and keeps
 * the contract by hand: check the caller, the deadline and the request, answer
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
  server.addService(pkg.xbus.v1.Adapter.service, {
    Describe(call: Call, cb: Callback) {
      if (!callerOk(call)) return fail(cb, grpc.status.PERMISSION_DENIED, "WRONG_ROLE", "connectors only");
      cb(null, { agency: "rsta", services: [{ service: "rsta.driving-licence", record_type: RECORD }] });
    },
    Fetch(call: Call, cb: Callback) {
      if (!callerOk(call)) return fail(cb, grpc.status.PERMISSION_DENIED, "WRONG_ROLE", "connectors only");
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
