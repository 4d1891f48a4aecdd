import {
  type CelResult,
  CelScalar,
  celEnv,
  isCelError,
  listType,
  objectType,
  parse,
  plan,
} from "@bufbuild/cel";
import { type Timestamp, TimestampSchema, timestampFromMs } from "@bufbuild/protobuf/wkt";

/**
 * A grant's optional `condition:`, a CEL expression over the request, the
 * subject and the time. Compiled once when the bundle is read; evaluating it
 * is a plain function call on the request path.
 *
 * The variables are what the broker knows before it routes, never the record:
 *
 * | variable          | type                 | value |
 * | ----------------- | -------------------- | ----- |
 * | `service`         | string               | `dcrc.citizen-record` |
 * | `purpose`         | string               | `scholarship-eligibility` |
 * | `fields`          | list(string)         | the requested field paths as the consumer sent them (empty = the whole ceiling); the consumer controls it, so `xbus policy check` warns on a condition that reads it |
 * | `released`        | list(string)         | the leaf field paths this grant would release: the requested fields cut to the grant's ceiling (and the consent's fields), each expanded to the leaves below it (`address` → `address.village`, `address.gewog`, …) |
 * | `consumer`        | string               | the consumer's SPIFFE ID |
 * | `consumer_agency` | string               | `moe` |
 * | `consumer_system` | string               | `scholarships` |
 * | `subject`         | string               | the citizen ID (checked against the ID pattern before) |
 * | `consent`         | bool                 | the request names a consent that checks |
 * | `now`             | google.protobuf.Timestamp | when the broker decided |
 * | `hour`            | int                  | hour of day, 0–23, in the bundle's local time (`utc_offset`) |
 * | `weekday`         | int                  | 0 = Sunday … 6 = Saturday, local time |
 */
export const CONDITION_VARIABLES = {
  service: CelScalar.STRING,
  purpose: CelScalar.STRING,
  fields: listType(CelScalar.STRING),
  released: listType(CelScalar.STRING),
  consumer: CelScalar.STRING,
  consumer_agency: CelScalar.STRING,
  consumer_system: CelScalar.STRING,
  subject: CelScalar.STRING,
  consent: CelScalar.BOOL,
  now: objectType(TimestampSchema),
  hour: CelScalar.INT,
  weekday: CelScalar.INT,
} as const;

export type ConditionVariable = keyof typeof CONDITION_VARIABLES;

export interface ConditionInput {
  readonly service: string;
  readonly purpose: string;
  readonly fields: readonly string[];
  /**
   * The leaf paths this grant would release. A function: it is computed only for a condition that
   * reads `released`.
   */
  readonly released: () => readonly string[];
  readonly consumer: string;
  readonly consumerAgency: string;
  readonly consumerSystem: string;
  readonly subject: string;
  readonly consent: boolean;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** Minutes east of UTC of the bundle's local time. */
  readonly utcOffsetMinutes: number;
}

export interface Condition {
  readonly source: string;
  /** The variables the expression reads (for `xbus policy check`'s warnings). */
  readonly reads: ReadonlySet<ConditionVariable>;
  /** True when the condition holds; a CEL error counts as false and is returned as text. */
  evaluate(input: ConditionInput): { holds: boolean; error?: string };
}

const MAX_SOURCE = 2048;
const env = celEnv({ variables: CONDITION_VARIABLES });
const KNOWN = new Set<string>(Object.keys(CONDITION_VARIABLES));

type CelExpr = ReturnType<typeof parse>["expr"];

/** Compiles a condition or throws an Error whose message says what is wrong. */
export function compileCondition(source: string): Condition {
  if (source.trim() === "") throw new Error("condition is empty");
  if (source.length > MAX_SOURCE) throw new Error(`condition is longer than ${MAX_SOURCE} characters`);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    throw new Error(`condition does not parse: ${firstLine(err)}`);
  }
  const used = new Set<string>();
  const unknown = new Set<string>();
  walk(parsed.expr, new Set(), used, unknown);
  if (unknown.size > 0) {
    throw new Error(
      `condition uses unknown variable ${[...unknown].join(", ")} (known: ${[...KNOWN].join(", ")})`,
    );
  }
  // Only the variables the expression reads are bound, so the typed bindings do not fit.
  const program = plan(env, parsed) as unknown as (ctx: Bindings) => CelResult;
  // The public API has no type checker, so the expression is run once on a
  // sample request: an overload that does not exist or a result that is not
  // a bool is caught here rather than on a citizen's request.
  const sample = program(bindings(SAMPLE, used));
  if (isCelError(sample)) throw new Error(`condition does not check: ${sample.message}`);
  if (typeof sample !== "boolean") throw new Error("condition must give a bool");

  return {
    source,
    reads: used as ReadonlySet<ConditionVariable>,
    evaluate(input) {
      let r: CelResult;
      try {
        r = program(bindings(input, used));
      } catch (err) {
        return { holds: false, error: firstLine(err) };
      }
      if (isCelError(r)) return { holds: false, error: r.message };
      if (typeof r !== "boolean") return { holds: false, error: "condition did not give a bool" };
      return { holds: r };
    },
  };
}

const SAMPLE: ConditionInput = {
  service: "dcrc.citizen-record",
  purpose: "p",
  fields: ["name"],
  released: () => ["name"],
  consumer: "spiffe://example/agency/a/system/s",
  consumerAgency: "a",
  consumerSystem: "s",
  subject: "00000000000",
  consent: false,
  now: Date.UTC(2026, 0, 1, 12),
  utcOffsetMinutes: 0,
};

type Bindings = Record<string, unknown>;

/** Only the variables the expression uses are built: a Timestamp per request costs if nobody reads it. */
function bindings(input: ConditionInput, used: ReadonlySet<string>): Bindings {
  const local = new Date(input.now + input.utcOffsetMinutes * 60_000);
  const b: Bindings = {};
  for (const name of used) {
    switch (name as ConditionVariable) {
      case "service":
        b.service = input.service;
        break;
      case "purpose":
        b.purpose = input.purpose;
        break;
      case "fields":
        b.fields = input.fields;
        break;
      case "released":
        b.released = input.released();
        break;
      case "consumer":
        b.consumer = input.consumer;
        break;
      case "consumer_agency":
        b.consumer_agency = input.consumerAgency;
        break;
      case "consumer_system":
        b.consumer_system = input.consumerSystem;
        break;
      case "subject":
        b.subject = input.subject;
        break;
      case "consent":
        b.consent = input.consent;
        break;
      case "now":
        b.now = timestampFromMs(input.now) satisfies Timestamp;
        break;
      case "hour":
        b.hour = BigInt(local.getUTCHours());
        break;
      case "weekday":
        b.weekday = BigInt(local.getUTCDay());
        break;
    }
  }
  return b;
}

/** Collects the free identifiers of an expression; comprehension variables are bound, not free. */
function walk(e: CelExpr | undefined, bound: ReadonlySet<string>, used: Set<string>, unknown: Set<string>) {
  if (!e) return;
  const k = e.exprKind;
  switch (k.case) {
    case "identExpr":
      if (bound.has(k.value.name)) return;
      if (KNOWN.has(k.value.name)) used.add(k.value.name);
      else unknown.add(k.value.name);
      return;
    case "selectExpr":
      walk(k.value.operand, bound, used, unknown);
      return;
    case "callExpr":
      walk(k.value.target, bound, used, unknown);
      for (const a of k.value.args) walk(a, bound, used, unknown);
      return;
    case "listExpr":
      for (const a of k.value.elements) walk(a, bound, used, unknown);
      return;
    case "structExpr":
      for (const entry of k.value.entries) {
        if (entry.keyKind.case === "mapKey") walk(entry.keyKind.value, bound, used, unknown);
        walk(entry.value, bound, used, unknown);
      }
      return;
    case "comprehensionExpr": {
      const c = k.value;
      walk(c.iterRange, bound, used, unknown);
      walk(c.accuInit, bound, used, unknown);
      const inner = new Set([...bound, c.iterVar, c.iterVar2, c.accuVar].filter((v) => v !== ""));
      walk(c.loopCondition, inner, used, unknown);
      walk(c.loopStep, inner, used, unknown);
      walk(c.result, inner, used, unknown);
      return;
    }
    default:
      return;
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}
