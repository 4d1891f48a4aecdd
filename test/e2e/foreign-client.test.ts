import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * A client that is not ours: no generated code of this project, a different
 * protobuf implementation (protobufjs, via @grpc/proto-loader) reading the
 * .proto files, and the certificate files the stack wrote to disk — what an
 * agency writing its client in another language does.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

it("calls Exchange.Fetch using only the .proto files and the certificate files", async () => {
  const root = join(import.meta.dirname, "../../proto");
  const def = protoLoader.loadSync(["xbus/v1/exchange.proto", "agencies/dcrc/v1/citizen.proto"], {
    includeDirs: [root],
    keepCase: true,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    xbus: { v1: { Exchange: grpc.ServiceClientConstructor } };
  };
  const creds = grpc.credentials.createSsl(
    readFileSync(stack.caPath),
    readFileSync(stack.consumer.keyPath),
    readFileSync(stack.consumer.certPath),
  );
  const client = new pkg.xbus.v1.Exchange(stack.brokerAddress, creds);
  const subject = stack.population.citizens[3]?.id;
  const res = await new Promise<{
    exchange_id: string;
    record: { type_url: string; value: Buffer };
    released_fields: string[];
  }>((resolve, reject) =>
    (client as unknown as { Fetch: (...args: unknown[]) => void }).Fetch(
      {
        service: "dcrc.citizen-record",
        subject_id: subject,
        purpose: "scholarship-eligibility",
        fields: ["name"],
      },
      { deadline: Date.now() + 5000 },
      (err: grpc.ServiceError | null, value: never) => (err ? reject(err) : resolve(value)),
    ),
  );
  client.close();
  expect(res.released_fields).toEqual(["name"]);
  expect(res.record.type_url).toBe("type.googleapis.com/agencies.dcrc.v1.CitizenRecord");
  // Decode with protobufjs directly, independent of our runtime.
  const protobuf = (await import("protobufjs")).default;
  const rootNs = new protobuf.Root();
  rootNs.resolvePath = (_origin, target) => join(root, target);
  await rootNs.load("agencies/dcrc/v1/citizen.proto", { keepCase: true });
  const decoded = rootNs.lookupType("agencies.dcrc.v1.CitizenRecord").decode(res.record.value).toJSON();
  expect(decoded).toEqual({ name: stack.population.byId.get(subject ?? "")?.name });
});
