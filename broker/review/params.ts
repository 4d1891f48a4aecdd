import { zValidator } from "@hono/zod-validator";
import { z } from "zod";
import { isAgencyName } from "../../core/contract/index.js";
import { UUID_PATTERN } from "../../core/index.js";
import { ALERT_RULES, type AlertConfig, type AlertRule, alertRulesJson } from "./alerts.js";
import { badRequest } from "./http-errors.js";

/**
 * Every parameter the review API takes, parsed here and nowhere else: each route names its validators
 * (`p.inclusion`) and reads `c.req.valid("query")`. A refusal is a 400 whose message names the parameter
 * and what is wrong with it; the schemas word every message, so no library default reaches a client.
 *
 * Every route refuses a parameter it does not take, or one given twice: a client that misspells
 * `tree_size` or repeats `index` must get a 400, not a proof of something it did not ask for; and a
 * misspelt filter (`consumr=`) must not answer as if there were none.
 */

/** The largest page; a page size past it is refused rather than capped, so a short page is never read as the end. */
export const MAX_LIMIT = 1000;
const DECISIONS = ["allow", "deny", "invalid", "error"] as const;
const DEFAULT_ACCESS_LIMIT = 100;
const DEFAULT_ENTRIES_LIMIT = 100;
const DEFAULT_EXCHANGE_LIMIT = 50;
const DEFAULT_ALERT_WINDOW_MS = 24 * 3600_000;

/** What the parameters are checked against at the time of each request. */
export interface ParamsContext {
  /** The log's size now: a size or position past it is refused. */
  logSize: () => number;
  subjectIdPattern: RegExp;
  alerts: AlertConfig;
}

export type ReviewParams = ReturnType<typeof reviewParams>;

/** The validators of every route, one each (README, "Review API"). */
export function reviewParams(ctx: ParamsContext) {
  const withinLog = (value: number, name: string, z_: z.RefinementCtx): boolean => {
    const size = ctx.logSize();
    if (value <= size) return true;
    z_.addIssue({ code: "custom", message: `${name} must be at most the log's size, ${size}, got ${value}` });
    return false;
  };
  const enabledRules = alertRulesJson(ctx.alerts);
  const { maxWindowMs } = ctx.alerts;
  /** A window of the log in time: default the last day, at most the alerts' longest window. */
  const window = (q: { from?: number | undefined; to?: number | undefined }, z_: z.RefinementCtx) => {
    const to = q.to ?? Date.now();
    const from = q.from ?? to - DEFAULT_ALERT_WINDOW_MS;
    return (
      check(z_, from < to, "from must be before to") &&
      check(
        z_,
        to - from <= maxWindowMs,
        `from: the window from..to may span at most ${maxWindowMs / 86_400_000} days`,
      ) && { from, to }
    );
  };

  return {
    none: query([], {}),

    inclusion: query(
      ["index", "tree_size"],
      { index: count("index"), tree_size: count("tree_size") },
      (q, z_) =>
        withinLog(q.tree_size, "tree_size", z_) &&
        check(z_, q.index < q.tree_size, `index must be below tree_size (${q.tree_size}), got ${q.index}`) &&
        q,
    ),

    consistency: query(
      ["first", "second"],
      { first: count("first"), second: count("second") },
      // RFC 9162 §2.1.4 defines a proof for 0 < first ≤ second: every tree extends the empty one.
      (q, z_) =>
        withinLog(q.second, "second", z_) &&
        check(
          z_,
          q.first >= 1 && q.first <= q.second,
          `first must be 1 to second (${q.second}), got ${q.first}`,
        ) &&
        q,
    ),

    tlogProof: query(["index"], { index: count("index") }),

    entries: query(
      ["start", "limit"],
      { start: count("start").default(0), limit: limit(DEFAULT_ENTRIES_LIMIT) },
      // start = size is the empty page a follower polls at; past it, the client has the wrong log or size.
      (q, z_) => withinLog(q.start, "start", z_) && q,
    ),

    // The order of the shape is the order of the checks; the list is the order the refusal names them in.
    exchanges: query(
      ["consumer", "agency", "service", "subject", "purpose", "decision", "from", "to", "cursor", "limit"],
      {
        agency: z
          .string()
          .refine(isAgencyName, { error: (i) => `agency ${JSON.stringify(i.input)} is not an agency name` })
          .optional(),
        decision: z.enum(DECISIONS, { error: `decision must be one of ${DECISIONS.join(", ")}` }).optional(),
        subject: z.string().regex(ctx.subjectIdPattern, "subject is not a citizen ID").optional(),
        limit: limit(DEFAULT_EXCHANGE_LIMIT),
        from: time("from").optional(),
        to: time("to").optional(),
        cursor: count("cursor").optional(),
        consumer: z.string().optional(),
        service: z.string().optional(),
        purpose: z.string().optional(),
      },
    ),

    exchangeId: zValidator(
      "param",
      z.object({ id: z.string().regex(UUID_PATTERN, "exchange id must be a UUID") }),
      refuse,
    ),

    subjectId: zValidator(
      "param",
      z.object({ subjectId: z.string().regex(ctx.subjectIdPattern, "subjectId is not a citizen ID") }),
      refuse,
    ),

    accesses: query(["from", "to", "cursor", "limit"], {
      limit: limit(DEFAULT_ACCESS_LIMIT),
      from: time("from").optional(),
      to: time("to").optional(),
      cursor: count("cursor").optional(),
    }),

    alerts: query(
      ["from", "to", "rule"],
      {
        rule: z
          .enum(ALERT_RULES as [AlertRule, ...AlertRule[]], {
            error: `rule must be one of ${ALERT_RULES.join(", ")}`,
          })
          .refine((r) => r in enabledRules, {
            error: (iss) => `rule ${iss.input} is turned off on this server`,
          })
          .optional(),
        to: time("to").optional(),
        from: time("from").optional(),
      },
      (q, z_) => {
        const w = window(q, z_);
        return w && { rule: q.rule, ...w };
      },
    ),

    // The charts' time series: the same window as the alerts, which it counts too.
    stats: query(["from", "to"], { to: time("to").optional(), from: time("from").optional() }, window),
  };
}

/**
 * A route's query: first each parameter, in the query's own order, must be one of `names`, given once,
 * 1 to 256 characters; then `shape` parses them, in its own order; then `cross` checks them together and
 * returns what the route reads, or false when it added an issue.
 */
function query<
  const N extends readonly string[],
  S extends { [K in N[number]]: z.ZodType<unknown, string | undefined> },
  R = z.output<z.ZodObject<S>>,
>(names: N, shape: S, cross?: (value: z.output<z.ZodObject<S>>, ctx: z.RefinementCtx) => R | false) {
  const schema = envelope(names)
    .pipe(z.object(shape))
    .transform((value, ctx) => {
      const r = cross ? cross(value, ctx) : (value as R);
      return r === false ? z.NEVER : r;
    });
  return zValidator("query", schema, refuse);
}

/** Each parameter taken, once, 1 to 256 characters; the first that is not is the refusal. */
function envelope(names: readonly string[]) {
  return z
    .record(z.string(), z.union([z.string(), z.array(z.string())]))
    .superRefine((q, ctx) => {
      for (const [k, v] of Object.entries(q)) {
        const problem = !names.includes(k)
          ? `unknown query parameter ${JSON.stringify(k.slice(0, 64))} (${names.length ? names.join(", ") : "this route takes none"})`
          : Array.isArray(v)
            ? `${k} must be given once`
            : v.length === 0 || v.length > 256
              ? `${k} must be 1 to 256 characters`
              : undefined;
        if (problem) {
          ctx.addIssue({ code: "custom", message: problem });
          return;
        }
      }
    })
    .transform((q): Record<string, unknown> => q);
}

/** The validators' hook: the first issue, as the 400 it is. */
function refuse(result: { success: boolean; error?: { issues: readonly { message: string }[] } }): void {
  if (!result.success) throw badRequest(result.error?.issues[0]?.message ?? "the parameters are not valid");
}

function check(ctx: z.RefinementCtx, ok: boolean, message: string): boolean {
  if (!ok) ctx.addIssue({ code: "custom", message });
  return ok;
}

const INTEGER = /^[0-9]{1,15}$/;

/** A non-negative integer: a size, an index, a cursor. */
function count(name: string) {
  return z
    .string({ error: `${name} is required` })
    .regex(INTEGER, `${name} must be a non-negative integer`)
    .transform(Number);
}

/** A page size, 1 to MAX_LIMIT. */
function limit(byDefault: number) {
  return count("limit")
    .pipe(
      z.number().min(1, `limit must be 1 to ${MAX_LIMIT}`).max(MAX_LIMIT, `limit must be 1 to ${MAX_LIMIT}`),
    )
    .default(byDefault);
}

/**
 * A date, or a date and time with its zone: `2026-11-27`, `2026-11-27T10:00:00Z`, `…T10:00:00.5+06:00`.
 * Hours, minutes and seconds are checked here; whether the day exists is checked after parsing.
 */
const ISO_TIME =
  /^(\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))(?:T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))?$/;

/**
 * Milliseconds since the epoch, or ISO 8601 that names one instant: a time without a zone would be
 * read in the server's local time, so the same query would mean different things on different servers.
 * A date alone is midnight UTC, as ECMAScript defines it.
 */
function time(name: string) {
  return z.string().transform((value, ctx) => {
    if (INTEGER.test(value)) return Number(value);
    const date = ISO_TIME.exec(value)?.[1];
    const t = date !== undefined && dayExists(date) ? Date.parse(value) : Number.NaN;
    if (!Number.isNaN(t)) return t;
    ctx.addIssue({
      code: "custom",
      message: `${name} must be milliseconds since the epoch or an ISO 8601 time with a zone (Z or ±hh:mm), got ${JSON.stringify(value.slice(0, 64))}`,
    });
    return z.NEVER;
  });
}

/** Date.parse rolls 2026-02-30 over to 2 March instead of refusing it. */
function dayExists(date: string): boolean {
  const t = Date.parse(date);
  return !Number.isNaN(t) && new Date(t).toISOString().startsWith(`${date}T`);
}
