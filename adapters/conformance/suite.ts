import { generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import {
  clone,
  create,
  type DescMessage,
  equals,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import type { Any } from "@bufbuild/protobuf/wkt";
import { type Client, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { Catalogue, CatalogueService } from "../../core/contract/index.js";
import { isAgencyName, parseServiceName } from "../../core/contract/index.js";
import { retainFields } from "../../core/minimise/index.js";
import { RouteMetadata, signRoute } from "../../core/signing/index.js";
import {
  AdapterFetchRequestSchema,
  type AdapterFetchResponse,
  AdapterFetchResponseSchema,
  type DescribeResponse,
  DescribeResponseSchema,
} from "../../proto/gen/xbus/v1/adapter_pb.js";

/**
 * The contract every adapter keeps, whatever language it is written in: one
 * suite, run by `xbus adapter test` against any `xbus.v1.Adapter` and by the
 * tests against the four examples. It speaks plain gRPC to the adapter, as a
 * connector does, and judges only what comes back on the wire.
 */
export interface CheckResult {
  /** Stable name, e.g. `describe`, `known-subject moh.medical-fitness`. */
  readonly check: string;
  readonly pass: boolean;
  /** Why it failed, or what it saw when it passed. */
  readonly detail: string;
}

export interface ConformanceOptions {
  /** A grpc-js client connected to the adapter (mutual TLS with a certificate the adapter accepts). */
  client: Client;
  catalogue: Catalogue;
  /**
   * An Ed25519 private key the adapter trusts as a broker's route-signing key (one of its broker keys):
   * the kit signs each request's route with it, as a broker would, and checks that calls without a valid
   * route are refused. An integrator lists a test key's public half in the adapter's test deployment;
   * against `xbus dev`, the dev broker's key (dev.json `broker_signing_key`).
   */
  routeKey: KeyObject;
  /** A subject with a record in every service; otherwise each service's Describe sample_subject_id. */
  subject?: string | undefined;
  /** A subject no agency holds. Default `00000000000`: citizenship IDs never start with 0. */
  unknownSubject?: string;
  /** Deadline of each call the kit makes. Default 5 s. */
  callTimeoutMs?: number;
  /** Called as each check finishes, for printing progress. */
  onResult?: (r: CheckResult) => void;
}

export const DEFAULT_UNKNOWN_SUBJECT = "00000000000";
const TYPE_URL_PREFIX = "type.googleapis.com/";
const PURPOSE = "xbus-conformance";

class CheckFailed extends Error {}

/** Runs every check; never throws for a misbehaving adapter, only reports. */
export async function runConformance(o: ConformanceOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const timeout = o.callTimeoutMs ?? 5000;
  const unknownSubject = o.unknownSubject ?? DEFAULT_UNKNOWN_SUBJECT;
  const check = async (name: string, body: () => Promise<string>): Promise<boolean> => {
    let r: CheckResult;
    try {
      r = { check: name, pass: true, detail: await body() };
    } catch (err) {
      r = {
        check: name,
        pass: false,
        detail: err instanceof CheckFailed ? err.message : `unexpected: ${describeError(err)}`,
      };
    }
    results.push(r);
    o.onResult?.(r);
    return r.pass;
  };
  /**
   * A Fetch as a connector sends it: the request's bytes with the broker's route for them (`route`:
   * how to sign it, or null for none). `deadline` null sends no gRPC deadline (the route still has one).
   */
  const fetch = async (
    req: MessageInitShape<typeof AdapterFetchRequestSchema>,
    deadline: number | null = Date.now() + timeout,
    route: RouteSigning | null = {},
  ) => {
    const body = toBinary(
      AdapterFetchRequestSchema,
      create(AdapterFetchRequestSchema, {
        ...req,
        exchangeId: `${req.exchangeId}-${randomBytes(6).toString("hex")}`,
      }),
    );
    const metadata = new Metadata();
    if (route) {
      const decoded = fromBinary(AdapterFetchRequestSchema, body);
      const deadlineMs = route.deadlineMs ?? deadline ?? Date.now() + timeout;
      const signature = await signRoute(route.key ?? o.routeKey, {
        exchangeId: decoded.exchangeId,
        subject: `xbus.svc.${decoded.service}`,
        deadlineMs,
        body: route.body?.(decoded) ?? body,
      });
      metadata.set(RouteMetadata.signature, signature);
      metadata.set(RouteMetadata.deadline, String(deadlineMs));
    }
    return unary(
      o.client,
      "/xbus.v1.Adapter/Fetch",
      body,
      (b) => fromBinary(AdapterFetchResponseSchema, b),
      deadline,
      timeout,
      metadata,
    );
  };

  let described: DescribeResponse | undefined;
  await check("describe", async () => {
    described = await unary(
      o.client,
      "/xbus.v1.Adapter/Describe",
      new Uint8Array(),
      (b) => fromBinary(DescribeResponseSchema, b),
      Date.now() + timeout,
      timeout,
    ).catch((err: unknown) => {
      throw new CheckFailed(`Describe failed: ${describeError(err)}`);
    });
    if (!isAgencyName(described.agency))
      throw new CheckFailed(
        `agency ${JSON.stringify(described.agency.slice(0, 64))} is not a valid agency name`,
      );
    if (described.services.length === 0) throw new CheckFailed("Describe lists no services");
    for (const s of described.services) {
      let name: ReturnType<typeof parseServiceName>;
      try {
        name = parseServiceName(s.service);
      } catch {
        throw new CheckFailed(`service ${JSON.stringify(s.service.slice(0, 100))} is not <agency>.<name>`);
      }
      if (name.agency !== described.agency)
        throw new CheckFailed(`service ${s.service} does not belong to agency ${described.agency}`);
    }
    return `agency ${described.agency}: ${described.services.map((s) => s.service).join(", ")}`;
  });
  if (!described) return results;

  const services: { service: string; entry: CatalogueService; sample: string }[] = [];
  await check("record-types-in-catalogue", async () => {
    const wrong: string[] = [];
    for (const s of described?.services ?? []) {
      const entry = o.catalogue.get(s.service);
      if (!entry) wrong.push(`${s.service} is not in the catalogue`);
      else if (entry.recordType.typeName !== s.recordType)
        wrong.push(`${s.service} declares ${s.recordType}, the catalogue says ${entry.recordType.typeName}`);
      else services.push({ service: s.service, entry, sample: o.subject ?? s.sampleSubjectId });
    }
    if (wrong.length > 0) throw new CheckFailed(wrong.join("; "));
    return `${services.length} record type(s) match proto/`;
  });

  for (const { service, entry, sample } of services) {
    const type = entry.recordType;
    const allFields = type.fields.map((f) => f.name);
    let full: ReturnType<typeof decode> | undefined;
    await check(`known-subject ${service}`, async () => {
      if (!sample)
        throw new CheckFailed(
          "no known subject: pass --subject, or offer sample_subject_id for this service in Describe",
        );
      const res = await fetch({
        exchangeId: "conformance-known",
        service,
        subjectId: sample,
        purpose: PURPOSE,
        fields: allFields,
        consumer: "spiffe://conformance.invalid/agency/xbus/system/conformance-kit",
      }).catch((err: unknown) => {
        throw new CheckFailed(`Fetch of the known subject failed: ${describeError(err)}`);
      });
      full = decode(res, type);
      const set = setFields(type, full);
      if (set.length === 0) throw new CheckFailed("the record has no field set");
      return `${type.typeName} with ${set.join(", ")}`;
    });

    await check(`unknown-subject ${service}`, async () => {
      const err = await fetch({
        exchangeId: "conformance-unknown",
        service,
        subjectId: unknownSubject,
        purpose: PURPOSE,
        fields: allFields,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (err === undefined)
        throw new CheckFailed(`answered a record for ${unknownSubject}, expected NOT_FOUND`);
      if (codeOf(err) !== status.NOT_FOUND)
        throw new CheckFailed(`expected NOT_FOUND, got ${describeError(err)}`);
      return "NOT_FOUND";
    });

    await check(`released-fields ${service}`, async () => {
      if (!full) throw new CheckFailed("needs a record of the known subject first (see known-subject)");
      // Release one field that the full record has, and not the first, so an
      // adapter that ignores `fields` is caught setting the citizen ID or the like.
      const set = setFields(type, full);
      const released = set.at(-1);
      if (!released || set.length < 2) return "skipped: the known subject's record has fewer than two fields";
      const res = await fetch({
        exchangeId: "conformance-released",
        service,
        subjectId: sample,
        purpose: PURPOSE,
        fields: [released],
      }).catch((err: unknown) => {
        throw new CheckFailed(`Fetch with fields [${released}] failed: ${describeError(err)}`);
      });
      const got = decode(res, type);
      const cut = clone(type, got);
      retainFields(type, cut, [released]);
      if (!equals(type, got, cut)) {
        const leaked = setFields(type, got).filter((f) => f !== released);
        throw new CheckFailed(`released only [${released}] but the record also sets: ${leaked.join(", ")}`);
      }
      return `only ${released} set`;
    });

    await check(`deadline ${service}`, async () => {
      // A connector always sends a deadline; an adapter that serves a call
      // without one would also keep working past any deadline it is given.
      const err = await fetch(
        {
          exchangeId: "conformance-deadline",
          service,
          subjectId: sample || unknownSubject,
          purpose: PURPOSE,
          fields: allFields,
        },
        null,
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (err === undefined)
        throw new CheckFailed("served a Fetch that carried no deadline; it must refuse it");
      const code = codeOf(err);
      if (code !== status.INVALID_ARGUMENT && code !== status.DEADLINE_EXCEEDED)
        throw new CheckFailed(
          `a Fetch without a deadline should get INVALID_ARGUMENT, got ${describeError(err)}`,
        );
      return "a Fetch without a deadline is refused";
    });

    await check(`route ${service}`, async () => {
      // A connector's certificate alone must unlock nothing: only the route a broker signed for this
      // very request, before its deadline, by a key the adapter trusts.
      const req = {
        exchangeId: "conformance-route",
        service,
        subjectId: sample || unknownSubject,
        purpose: PURPOSE,
        fields: allFields,
      };
      const cases: [string, RouteSigning | null, number[]][] = [
        ["no route", null, [status.PERMISSION_DENIED]],
        [
          "a route for another request (body hash differs)",
          {
            body: (r) =>
              toBinary(AdapterFetchRequestSchema, {
                ...r,
                subjectId: unknownSubject === r.subjectId ? "10000000001" : unknownSubject,
              }),
          },
          [status.PERMISSION_DENIED],
        ],
        [
          "a route past its deadline",
          { deadlineMs: Date.now() - 1000 },
          [status.PERMISSION_DENIED, status.DEADLINE_EXCEEDED],
        ],
        ["a route signed by an untrusted key", { key: untrusted() }, [status.PERMISSION_DENIED]],
      ];
      const bad: string[] = [];
      for (const [what, route, codes] of cases) {
        const err = await fetch(req, Date.now() + timeout, route).then(
          () => undefined,
          (e: unknown) => e,
        );
        const code = codeOf(err);
        if (code === undefined || !codes.includes(code))
          bad.push(`${what}: ${err === undefined ? "answered a record" : describeError(err)}`);
      }
      if (bad.length > 0) throw new CheckFailed(`expected a refusal for ${bad.join("; ")}`);
      return `refused ${cases.map(([w]) => w).join(", ")}`;
    });

    await check(`malformed ${service}`, async () => {
      const base = {
        exchangeId: "conformance-malformed",
        service,
        subjectId: sample || unknownSubject,
        purpose: PURPOSE,
      };
      const cases: [string, MessageInitShape<typeof AdapterFetchRequestSchema>][] = [
        ["unknown service", { ...base, service: `${described?.agency}.xbus-conformance-no-such-service` }],
        ["empty subject_id", { ...base, subjectId: "", fields: allFields }],
        ["no fields", { ...base, fields: [] }],
        ["unknown field", { ...base, fields: ["xbus_conformance_no_such_field"] }],
      ];
      const bad: string[] = [];
      for (const [what, req] of cases) {
        const err = await fetch(req).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (codeOf(err) !== status.INVALID_ARGUMENT)
          bad.push(`${what}: ${err === undefined ? "answered a record" : describeError(err)}`);
      }
      if (bad.length > 0) throw new CheckFailed(`expected INVALID_ARGUMENT for ${bad.join("; ")}`);
      return `INVALID_ARGUMENT for ${cases.map(([w]) => w).join(", ")}`;
    });
  }
  return results;
}

/** How the kit signs a route: by default the request's own bytes with `routeKey`, until the call's deadline. */
interface RouteSigning {
  key?: KeyObject;
  deadlineMs?: number;
  /** Sign the route over these bytes instead of the request's. */
  body?: (req: ReturnType<typeof fromBinary<typeof AdapterFetchRequestSchema>>) => Uint8Array;
}

let untrustedKey: KeyObject | undefined;
/** A key no adapter trusts: made once per process. */
function untrusted(): KeyObject {
  untrustedKey ??= generateKeyPairSync("ed25519").privateKey;
  return untrustedKey;
}

function decode(res: AdapterFetchResponse, type: DescMessage) {
  const any: Any | undefined = res.record;
  if (!any) throw new CheckFailed("the response has no record");
  if (any.typeUrl !== TYPE_URL_PREFIX + type.typeName)
    throw new CheckFailed(
      `the record is ${JSON.stringify(any.typeUrl.slice(0, 200))}, expected ${TYPE_URL_PREFIX}${type.typeName}`,
    );
  try {
    return fromBinary(type, any.value);
  } catch (err) {
    throw new CheckFailed(`the record does not decode as ${type.typeName}: ${describeError(err)}`);
  }
}

function setFields(type: DescMessage, msg: ReturnType<typeof fromBinary>): string[] {
  const r = reflect(type, msg);
  return r.fields.filter((f) => r.isSet(f)).map((f) => f.name);
}

function codeOf(err: unknown): number | undefined {
  const c = (err as Partial<ServiceError> | undefined)?.code;
  return typeof c === "number" ? c : undefined;
}

const CODE_NAMES = Object.fromEntries(Object.entries(status).map(([k, v]) => [v, k]));

function describeError(err: unknown): string {
  const se = err as Partial<ServiceError>;
  if (typeof se?.code === "number") {
    const reason = se.metadata?.get("xbus-reason")[0];
    // UNAVAILABLE comes from the transport, not the adapter: its text says why (refused, TLS, DNS).
    const why = se.code === status.UNAVAILABLE && se.details ? `: ${se.details}` : "";
    return `${CODE_NAMES[se.code] ?? se.code}${typeof reason === "string" ? ` (${reason})` : ""}${why}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * One unary call with raw bytes. `deadline` null sends none; the kit
 * then cancels the call itself after `guardMs`, so an adapter that hangs
 * cannot hang the kit.
 */
function unary<T>(
  client: Client,
  path: string,
  body: Uint8Array,
  parse: (b: Buffer) => T,
  deadline: number | null,
  guardMs: number,
  metadata: Metadata = new Metadata(),
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const call = client.makeUnaryRequest(
      path,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => parse(b),
      body,
      metadata,
      deadline === null ? {} : { deadline },
      (err: ServiceError | null, value?: T) => {
        clearTimeout(guard);
        if (err) reject(err);
        else resolve(value as T);
      },
    );
    const guard = setTimeout(() => call.cancel(), deadline === null ? guardMs : guardMs * 2);
  });
}
