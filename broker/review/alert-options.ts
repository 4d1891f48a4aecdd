import { z } from "zod";

export type Weekday = "Sun" | "Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat";
export const WEEKDAYS: readonly Weekday[] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** `ReviewOptions.alerts`: every field has a default; `false` turns a rule off. */
export interface AlertOptions {
  /** One consumer read at least `subjects` distinct subjects within `windowMs` (allowed exchanges). */
  bulkLookup?: { subjects?: number; windowMs?: number } | false;
  /** One consumer had at least `count` exchanges refused (deny or invalid) within `windowMs`. */
  denials?: { count?: number; windowMs?: number } | false;
  /** Allowed exchanges outside office hours: `start` ≤ local time < `end` on `days`, in `timeZone`. */
  offHours?: { timeZone?: string; start?: string; end?: string; days?: readonly Weekday[] } | false;
  /** The longest `from`..`to` a request may ask for (default 31 days). */
  maxWindowMs?: number;
  /** The most exchanges one request reads from the index (default 200 000). */
  maxScan?: number;
  /** Exchanges listed per alert (default 100); `count` stays the real total. */
  maxExchangesPerAlert?: number;
}

/** Office hours as the off-hours rule runs them: the clock times also in minutes after midnight. */
export interface OfficeHours {
  timeZone: string;
  start: string;
  end: string;
  days: readonly Weekday[];
  startMin: number;
  endMin: number;
}

/** The alert options with their defaults filled in; a rule turned off is undefined. */
export interface AlertConfig {
  bulkLookup: { subjects: number; windowMs: number } | undefined;
  denials: { count: number; windowMs: number } | undefined;
  offHours: OfficeHours | undefined;
  maxWindowMs: number;
  maxScan: number;
  maxExchangesPerAlert: number;
}

// Each message says what is wrong and shows the value; `resolveAlertOptions` puts the option's path in front.
const got = (input: unknown) => `got ${JSON.stringify(input) ?? String(input)}`;

const positiveInt = (fallback: number) =>
  z
    .int({ error: (iss) => `must be a positive integer, ${got(iss.input)}` })
    .min(1, { error: (iss) => `must be a positive integer, ${got(iss.input)}` })
    .default(fallback);

/** HH:MM from 00:00 to 24:00, so that office hours can run to midnight. */
const CLOCK = /^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$/;
const clock = (fallback: string) =>
  z
    .string({ error: (iss) => `must be a time of day as HH:MM (00:00 to 24:00), ${got(iss.input)}` })
    .regex(CLOCK, { error: (iss) => `must be a time of day as HH:MM (00:00 to 24:00), ${got(iss.input)}` })
    .default(fallback);

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const RULE = {
  error: (iss: { input: unknown }) => `must be false or an object of settings, ${got(iss.input)}`,
};
/** `false` turns a rule off; `explain` reads the settings' issues out of the union's. */
const offOr = <T extends z.ZodType>(settings: T) => z.union([z.literal(false), settings]);

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

const officeHours = z
  .object(
    {
      timeZone: z
        .string({ error: (iss) => `must be an IANA time zone name, ${got(iss.input)}` })
        .refine(isTimeZone, { error: (iss) => `is not an IANA time zone: ${String(iss.input)}` })
        .default("UTC"),
      start: clock("07:00"),
      end: clock("19:00"),
      days: z
        .array(
          z.enum(WEEKDAYS as [Weekday, ...Weekday[]], {
            error: (iss) => `must be one of ${WEEKDAYS.join(", ")}, ${got(iss.input)}`,
          }),
          { error: (iss) => `must be a list of weekdays, ${got(iss.input)}` },
        )
        .default(["Mon", "Tue", "Wed", "Thu", "Fri"]),
    },
    RULE,
  )
  .transform((o, ctx): OfficeHours => {
    const startMin = minutes(o.start);
    const endMin = minutes(o.end);
    if (startMin >= endMin)
      ctx.addIssue({
        code: "custom",
        path: ["start"],
        message: `must be before alerts.offHours.end (start ${o.start}, end ${o.end})`,
      });
    return { ...o, startMin, endMin };
  });

/** The alert options' schema: defaults filled in and every value checked. */
export const alertOptionsSchema: z.ZodType<AlertConfig, AlertOptions> = z
  .object({
    // `false` turns a rule off; absent, it runs with its defaults (`prefault`: `{}` is parsed, so they fill in).
    bulkLookup: offOr(z.object({ subjects: positiveInt(100), windowMs: positiveInt(HOUR) }, RULE)).prefault(
      {},
    ),
    denials: offOr(z.object({ count: positiveInt(10), windowMs: positiveInt(10 * MINUTE) }, RULE)).prefault(
      {},
    ),
    offHours: offOr(officeHours).prefault({}),
    maxWindowMs: positiveInt(31 * DAY),
    maxScan: positiveInt(200_000),
    maxExchangesPerAlert: positiveInt(100),
  })
  .transform((o) => ({
    ...o,
    bulkLookup: o.bulkLookup || undefined,
    denials: o.denials || undefined,
    offHours: o.offHours || undefined,
  }));

/**
 * Defaults filled in and every value checked: a bad setting stops the server at start, not a request.
 * The RangeError names the option (`alerts.denials.count`) and the value it refused.
 */
export function resolveAlertOptions(o: AlertOptions = {}): AlertConfig {
  const parsed = alertOptionsSchema.safeParse(o);
  if (parsed.success) return parsed.data;
  const { path, message } = explain(parsed.error.issues);
  throw new RangeError(
    `alerts${path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")} ${message}`,
  );
}

/**
 * The first issue, with its whole path. A rule that is not `false` failed its settings: of the union's two
 * branches only the second (the settings) says why, with paths relative to the rule.
 */
function explain(issues: readonly z.core.$ZodIssue[]): { path: PropertyKey[]; message: string } {
  const issue = issues[0];
  if (!issue) return { path: [], message: "are not valid" };
  if (issue.code === "invalid_union") {
    const inner = explain(issue.errors.at(-1) ?? []);
    return { path: [...issue.path, ...inner.path], message: inner.message };
  }
  return { path: issue.path, message: issue.message };
}

/** The rules as they run, for the response: a reviewer sees which thresholds produced the list. */
export function alertRulesJson(cfg: AlertConfig): Record<string, unknown> {
  return {
    ...(cfg.bulkLookup && {
      bulk_lookup: { subjects: cfg.bulkLookup.subjects, window_ms: cfg.bulkLookup.windowMs },
    }),
    ...(cfg.denials && { denials: { count: cfg.denials.count, window_ms: cfg.denials.windowMs } }),
    ...(cfg.offHours && {
      off_hours: {
        time_zone: cfg.offHours.timeZone,
        start: cfg.offHours.start,
        end: cfg.offHours.end,
        days: cfg.offHours.days,
      },
    }),
  };
}
