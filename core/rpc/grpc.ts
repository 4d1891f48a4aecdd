import {
  create,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  type handleUnaryCall,
  Metadata,
  type ServerUnaryCall,
  type ServiceDefinition,
  type ServiceError,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { XbusError } from "../errors.js";
import { toBinarySpliced } from "./proto-splice.js";

/*
 * grpc-js glue for protobuf-es service descriptors: one definition per service
 * straight from the generated descriptors, so no second code generator and
 * no hand-written paths. Unary methods only; the contract has no streams.
 */

type Methods<T extends GenServiceMethods> = {
  [K in keyof T]: T[K] extends { input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? { input: I; output: O }
    : never;
};

export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  call: ServerUnaryCall<MessageShape<I>, MessageShape<O>>,
) => Promise<MessageInitShape<O>>;

/**
 * A handler of a method whose request reaches it undecoded (`rawRequests` of
 * serviceDefinition): the handler decodes, so a request that does not decode
 * is its to answer and to log, rather than grpc-js's to fail before it.
 */
export type RawUnaryHandler<O extends DescMessage> = (
  request: Buffer,
  call: ServerUnaryCall<Buffer, MessageShape<O>>,
) => Promise<MessageInitShape<O>>;

export type ServiceHandlers<T extends GenServiceMethods, Raw extends keyof T = never> = {
  [K in keyof T]: K extends Raw
    ? RawUnaryHandler<Methods<T>[K]["output"]>
    : UnaryHandler<Methods<T>[K]["input"], Methods<T>[K]["output"]>;
};

function unaryMethods(service: DescService) {
  return service.methods.map((m) => {
    if (m.methodKind !== "unary")
      throw new Error(`${service.typeName}.${m.name}: only unary methods are supported`);
    return m;
  });
}

/** The encoded bytes as a Buffer without copying them (Buffer.from(Uint8Array) copies: a whole record, each hop). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const received = new WeakMap<object, Uint8Array>();

/**
 * The bytes a request that this process served was decoded from: the exchange
 * log hashes the request as received (log.proto, request_hash), not as it would
 * be encoded again (unknown fields, field order and encodings may differ).
 */
export function receivedBytes(request: object): Uint8Array | undefined {
  return received.get(request);
}

/**
 * The grpc-js definition of a service. Requests of the methods named in
 * `rawRequests` (local names) are handed over as the received bytes, undecoded
 * (a RawUnaryHandler); the others are decoded before the handler runs, and one
 * that does not decode fails at grpc-js without reaching it.
 */
export function serviceDefinition(
  service: DescService,
  rawRequests: readonly string[] = [],
): ServiceDefinition {
  const def: Record<string, ServiceDefinition[string]> = {};
  for (const m of unaryMethods(service)) {
    def[m.localName] = {
      path: `/${service.typeName}/${m.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (msg: MessageShape<DescMessage>) => asBuffer(toBinarySpliced(m.input, msg)),
      requestDeserialize: rawRequests.includes(m.localName)
        ? (bytes: Buffer) => bytes
        : (bytes: Buffer) => {
            const msg = fromBinary(m.input, bytes);
            received.set(msg, bytes);
            return msg;
          },
      responseSerialize: (msg: MessageShape<DescMessage>) => asBuffer(toBinarySpliced(m.output, msg)),
      responseDeserialize: (bytes: Buffer) => fromBinary(m.output, bytes),
      originalName: m.name,
    };
  }
  return def as ServiceDefinition;
}

/**
 * A grpc-js implementation from async handlers. A handler's rejection becomes
 * the call's status: an XbusError keeps its code, reason and exchange id;
 * anything else becomes INTERNAL without its message, which `onInternal` sees.
 */
export function serviceImplementation<T extends GenServiceMethods, Raw extends keyof T = never>(
  service: GenService<T>,
  handlers: ServiceHandlers<T, Raw>,
  onInternal: (err: unknown, method: string) => void = () => {},
  /** The methods given to serviceDefinition as `rawRequests`: their handlers get the request's bytes. */
  _rawRequests: readonly Raw[] = [],
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const m of unaryMethods(service as unknown as DescService)) {
    const handler = handlers[m.localName as keyof T] as unknown as UnaryHandler<DescMessage, DescMessage>;
    const unary: handleUnaryCall<unknown, unknown> = (call, callback) => {
      handler(call.request as never, call as never).then(
        (out) => callback(null, create(m.output, out)),
        (err: unknown) => {
          const xe = XbusError.from(err);
          if (xe.reason === "INTERNAL") onInternal(err, m.name);
          callback(xe.toGrpc());
        },
      );
    };
    impl[m.localName] = unary;
  }
  return impl;
}

export interface CallOptions {
  /** Absolute deadline. */
  deadline?: Date | number;
  metadata?: Metadata;
}

export type ServiceClient<T extends GenServiceMethods> = {
  [K in keyof T]: (
    request: MessageInitShape<Methods<T>[K]["input"]>,
    options?: CallOptions,
  ) => Promise<MessageShape<Methods<T>[K]["output"]>>;
} & { close(): void; raw: Client };

function call<I>(
  raw: Client,
  path: string,
  serialize: (request: I) => Buffer,
  output: DescMessage,
  request: I,
  opts: CallOptions,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    raw.makeUnaryRequest(
      path,
      serialize,
      (bytes: Buffer) => fromBinary(output, bytes),
      request,
      opts.metadata ?? new Metadata(),
      opts.deadline === undefined ? {} : { deadline: opts.deadline },
      (err: ServiceError | null, value?: unknown) => (err ? reject(err) : resolve(value)),
    );
  });
}

/** A promise-based client for a protobuf-es service over grpc-js. */
export function createServiceClient<T extends GenServiceMethods>(
  service: GenService<T>,
  address: string,
  credentials: ChannelCredentials,
  options: ChannelOptions = {},
): ServiceClient<T> {
  const raw = new Client(address, credentials, options);
  const out: Record<string, unknown> = { close: () => raw.close(), raw };
  for (const m of unaryMethods(service as unknown as DescService)) {
    const path = `/${(service as unknown as DescService).typeName}/${m.name}`;
    const serialize = (msg: MessageInitShape<DescMessage>) =>
      asBuffer(toBinarySpliced(m.input, create(m.input, msg)));
    out[m.localName] = (request: MessageInitShape<DescMessage>, opts: CallOptions = {}) =>
      call(raw, path, serialize, m.output, request, opts);
  }
  return out as ServiceClient<T>;
}

/**
 * A unary call whose request is already encoded (bytes received and checked,
 * passed on as they are rather than decoded and encoded again).
 */
export function callEncoded<O extends DescMessage>(
  client: { raw: Client },
  method: { parent: DescService; name: string; output: O },
  request: Uint8Array,
  opts: CallOptions = {},
): Promise<MessageShape<O>> {
  const path = `/${method.parent.typeName}/${method.name}`;
  return call(client.raw, path, asBuffer, method.output, request, opts) as Promise<MessageShape<O>>;
}

/** The xbus reason of a failed call, from its trailing metadata. */
export function reasonOf(err: unknown): string | undefined {
  const md = (err as Partial<ServiceError> | undefined)?.metadata;
  const v = md?.get("xbus-reason")[0];
  return typeof v === "string" ? v : undefined;
}
